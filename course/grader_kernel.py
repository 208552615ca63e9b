"""An IPython kernel for nbgrader autograde that cannot write outside a fresh temporary home.

nbgrader runs every submission in a kernel with the grader's rights. Run as
root, this launcher copies the connection file into a fresh home owned by an
unprivileged user (``$CH9_GRADER_USER``, default ``nobody``), drops to that user
(groups cleared) and starts ipykernel there. The submission can then read the
course files and write only its fresh home and /tmp: not another student's
submission, not the autograded notebooks, not ``gradebook.db``. Not run as
root, it cannot switch users and starts the kernel unchanged (with a warning):
grade untrusted work as root, or in a container.

Usage:
    python course/grader_kernel.py --install [--prefix PREFIX]   # kernelspec "ch9-grader"
    python course/grader_kernel.py -f CONNECTION_FILE [...]      # what the kernelspec runs
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
import tempfile
from pathlib import Path

NAME = "ch9-grader"


def install(prefix: str) -> Path:
    """Write the kernelspec ``ch9-grader`` under ``prefix``/share/jupyter/kernels."""
    folder = Path(prefix) / "share" / "jupyter" / "kernels" / NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, str(Path(__file__).resolve()), "-f", "{connection_file}"],
            "display_name": "Python (ch9-interpret, grader)", "language": "python",
            "env": {"CH9_MODEL_SOURCE": "bundled", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def _seed_font_cache(target: Path) -> None:
    """Copy matplotlib's font list, so a fresh home does not rebuild it (seconds per kernel)."""
    sources = [os.environ.get("MPLCONFIGDIR", ""), "~/.cache/matplotlib", "~/.matplotlib"]
    for folder in (Path(s).expanduser() for s in sources if s):
        for font_list in sorted(folder.glob("fontlist-*.json")):
            target.mkdir(exist_ok=True)
            shutil.copyfile(font_list, target / font_list.name)


def launch(args: list[str]) -> None:
    """Replace this process with ipykernel, as the unprivileged user when we are root."""
    connection = args[args.index("-f") + 1]
    rest = [a for i, a in enumerate(args) if a != "-f" and (i == 0 or args[i - 1] != "-f")]
    kernel = [sys.executable, "-m", "ipykernel_launcher"]
    if os.geteuid() != 0:
        print(f"{NAME}: not root, so the submission runs with your rights", file=sys.stderr)
        os.execv(sys.executable, [*kernel, "-f", connection, *rest])
    user = pwd.getpwnam(os.environ.get("CH9_GRADER_USER", "nobody"))
    home = Path(tempfile.mkdtemp(prefix="ch9-grader-"))  # fresh for every kernel
    copy = home / "kernel.json"
    shutil.copyfile(connection, copy)
    _seed_font_cache(home / "matplotlib")
    for path in (home, *home.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(copy, 0o600)
    os.environ.update(HOME=str(home), USER=user.pw_name, LOGNAME=user.pw_name,
                      MPLCONFIGDIR=str(home / "matplotlib"), IPYTHONDIR=str(home / "ipython"),
                      XDG_CACHE_HOME=str(home / "cache"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                      TMPDIR=str(home))
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.execv(sys.executable, [*kernel, "-f", str(copy), *rest])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--install"]:
        prefix = argv[argv.index("--prefix") + 1] if "--prefix" in argv else sys.prefix
        print(f"installed {install(prefix)}")
        return 0
    if "-f" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    launch(argv)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
