"""An IPython kernel for nbgrader autograde that cannot write the course or see the grader.

nbgrader runs every submission in a kernel with the grader's rights, so a cell
could overwrite another student's notebook or the gradebook. Run as root (as
`make assignments` and the class test do), this launcher starts the kernel

* in its own mount namespace where every file system, the course directory
  included, is read-only, and ``/tmp`` and ``/dev/shm`` are fresh, private
  tmpfs (the kernel's home is in ``/tmp``);
* in its own PID namespace (it cannot signal the autograder or other kernels);
* with every capability dropped (``setpriv``), so it cannot remount anything.

The submission can read the course files and the models and write only its
private ``/tmp``. It needs util-linux's ``unshare`` and ``setpriv`` and a
system that allows mount namespaces (most Linux machines and containers run as
root do). Elsewhere (not root, or no namespaces) it starts the kernel
unchanged, says so on stderr, and the submission has the grader's rights.

Usage:
    python course/grader_kernel.py --install [--prefix PREFIX]   # kernelspec "ch9-grader"
    python course/grader_kernel.py -f CONNECTION_FILE [...]      # what the kernelspec runs
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NAME = "ch9-grader"
TMP_SIZE = "1g"
MASKED = ("/tmp/", "/dev/shm/")  # replaced by private, empty tmpfs inside the kernel's namespace


def install(prefix: str) -> Path:
    """Write the kernelspec ``ch9-grader`` under ``prefix``/share/jupyter/kernels."""
    folder = Path(prefix) / "share" / "jupyter" / "kernels" / NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, str(Path(__file__).resolve()), "-f", "{connection_file}"],
            "display_name": "Python (ch9-interpret, grader)", "language": "python",
            "interrupt_mode": "message",  # the kernel runs in a child PID namespace
            # the project root: the hidden tests import the grader-only package ``grader``
            "env": {"CH9_MODEL_SOURCE": "bundled", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def course_root(start: Path) -> Path | None:
    """The nearest folder above ``start`` with an ``nbgrader_config.py`` (the course)."""
    return next((p for p in (start, *start.parents) if (p / "nbgrader_config.py").is_file()), None)


def _kernel(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "ipykernel_launcher", *args]


def _mount(*args: str, check: bool = True) -> None:
    subprocess.run(["mount", *args], check=check, capture_output=True)


def confine(course: Path, args: list[str]) -> None:
    """Inside the new namespaces: make the file system read-only, drop capabilities, exec.

    ``args`` are the kernel's (with ``-f CONNECTION_FILE``), or, after ``--``, any command
    (the isolated grading process of ``grader/isolated.py``).
    """
    # read what the process needs before /tmp is replaced: the kernel's connection file,
    # matplotlib's font list (building it again takes seconds)
    keep = {}
    connection = Path(args[args.index("-f") + 1]) if args[:1] != ["--"] else None
    if connection is not None:
        keep["kernel.json"] = connection.read_bytes()
    for folder in (Path(s).expanduser() for s in ("~/.cache/matplotlib", "~/.matplotlib")):
        keep |= {f"matplotlib/{p.name}": p.read_bytes() for p in folder.glob("fontlist-*.json")}
    course_fd = os.open(course, os.O_RDONLY | os.O_DIRECTORY)  # the course, even under /tmp
    # The project and its venv, when they lie under a folder about to be replaced (a clone in /tmp)
    masked = [Path(p).resolve() for p in (Path(__file__).resolve().parent.parent, sys.prefix)
              if str(Path(p).resolve()).startswith(MASKED)]
    masked = [p for p in masked if not any(q != p and q in p.parents for q in masked)]
    kept_fds = {p: os.open(p, os.O_RDONLY | os.O_DIRECTORY) for p in masked}
    cwd = os.getcwd()
    _mount("--make-rprivate", "/")
    points = dict.fromkeys(line.split()[1] for line in open("/proc/self/mounts", encoding="utf-8"))
    for point in points:
        if not point.startswith(("/proc", "/sys", "/dev")):
            _mount("-o", "remount,bind,ro", point, check=False)
    for point in MASKED:  # private and empty
        _mount("-t", "tmpfs", "-o", f"size={TMP_SIZE},mode=1777", "tmpfs", point.rstrip("/"))
    for path, fd in kept_fds.items():  # seen again, read-only
        path.mkdir(parents=True, exist_ok=True)
        _mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{fd}", str(path))
        _mount("-o", "remount,bind,ro", str(path))
        os.close(fd)
    course.mkdir(parents=True, exist_ok=True)  # only inside the new /tmp, if it lies there
    _mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{course_fd}", str(course))
    _mount("-o", "remount,bind,ro", str(course))
    os.close(course_fd)
    os.chdir(cwd)  # the same folder, seen through the read-only view
    if os.access(course, os.W_OK) or os.access("/", os.W_OK):
        raise SystemExit(f"{NAME}: the course is still writable; refusing to run the submission")
    home = Path("/tmp/home")
    for name, data in keep.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_bytes(data)
    if connection is None:
        command = args[1:]
    else:
        command = _kernel([str(home / "kernel.json") if a == str(connection) else a for a in args])
    os.environ.update(HOME=str(home), MPLCONFIGDIR=str(home / "matplotlib"),
                      IPYTHONDIR=str(home / "ipython"), XDG_CACHE_HOME=str(home / "cache"),
                      JUPYTER_RUNTIME_DIR=str(home / "runtime"), TMPDIR="/tmp")
    os.execvp("setpriv", ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
                          "--", *command])


def _confinable(course: Path | None) -> bool:
    tools = all(shutil.which(t) for t in ("unshare", "setpriv", "mount"))
    return os.geteuid() == 0 and course is not None and tools and \
        subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def _unshare(course: Path, args: list[str]) -> list[str]:
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--", sys.executable, str(Path(__file__).resolve()), "--confine", str(course), *args]


def confined(command: list[str], folder: Path) -> list[str]:
    """``command`` run confined like a grader kernel, from ``folder`` inside a course
    (or ``command`` itself, with a note on stderr, where confinement is impossible)."""
    course = course_root(Path(folder).resolve())
    if not _confinable(course):
        print(f"{NAME}: cannot confine the grading process here; it runs with your rights", file=sys.stderr)
        return list(command)
    return _unshare(course, ["--", *command])


def launch(args: list[str]) -> None:
    """Replace this process with the confined kernel (or a plain one where that is impossible)."""
    course = course_root(Path.cwd())
    if not _confinable(course):
        print(f"{NAME}: cannot confine the kernel here (needs root, mount namespaces, util-linux, "
              "and a course folder); the submission runs with your rights", file=sys.stderr)
        os.execv(sys.executable, _kernel(args))
    command = _unshare(course, args)
    os.execvp(command[0], command)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--install"]:
        prefix = argv[argv.index("--prefix") + 1] if "--prefix" in argv else sys.prefix
        print(f"installed {install(prefix)}")
        return 0
    if argv[:1] == ["--confine"]:
        confine(Path(argv[1]), argv[2:])
    if "-f" not in argv:  # (a kernel needs its connection file)
        print(__doc__, file=sys.stderr)
        return 2
    launch(argv)
    return 1  # not reached: launch() replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
