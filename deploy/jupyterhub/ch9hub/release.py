"""What the hub (root) prepares before students arrive: the release, the kernelspec, locked teacher files.

* :func:`build_release`: the notebooks a student gets (nbgrader release versions
  where ``make assignments`` made them, else the student edition of
  scripts/make_student.py: never the answers) in a root-owned, world-readable
  folder, and a kernelspec ``ch9-interpret`` that loads :mod:`ch9hub.oom`.
* :func:`lock_teacher_files`: the checkout's answers and grades (``course/``,
  ``notebooks/``, ``tests/`` (which solve the exercises), ``grader/`` (the reference answers),
  ``build/``, ``.git``)
  closed to everyone but their owner.
* :func:`check_readable`: the venv and the checkout must be readable (not
  writable) by the students, or their servers cannot start.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

TEACHER_ONLY = ("course", "notebooks", "tests", "grader", "build", ".git")  # answers, references, grades


def _root_dir(path: Path, mode: int) -> Path:
    """A directory owned by the hub's user (root) with ``mode``, never a link."""
    path.mkdir(parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise RuntimeError(f"{path} must be a directory owned by the hub's user (root), not a link")
    os.chmod(path, mode)
    return path


def build_release(repo: Path, release: Path, course: str, python: Path) -> Path:
    """Write the students' notebooks to ``release/<course>`` and the kernelspec; the JUPYTER_PATH."""
    sys.path.insert(0, str(repo / "scripts"))
    import make_student
    import nbformat

    notebooks = _root_dir(release / course, 0o755)
    for old in notebooks.iterdir():
        old.unlink()
    for notebook in sorted((repo / "notebooks").glob("*.ipynb")):
        published = repo / "course" / "release" / notebook.stem / notebook.name
        if published.is_file():
            shutil.copyfile(published, notebooks / notebook.name)
        else:
            nbformat.write(make_student.student_notebook(nbformat.read(notebook, as_version=4)),
                           notebooks / notebook.name)
        os.chmod(notebooks / notebook.name, 0o644)
    jupyter = _root_dir(release / "jupyter", 0o755)
    kernel = _root_dir(jupyter / "kernels" / course, 0o755)
    venv_spec = python.parent.parent / "share" / "jupyter" / "kernels" / course / "kernel.json"
    spec = json.loads(venv_spec.read_text()) if venv_spec.is_file() else {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({course})", "language": "python"}
    spec["argv"] = [*spec["argv"], "--ext=ch9hub.oom"]
    (kernel / "kernel.json").write_text(json.dumps(spec, indent=1))
    os.chmod(kernel / "kernel.json", 0o644)
    return jupyter


def lock_teacher_files(repo: Path) -> list[Path]:
    """Remove group/other permissions from the teacher-only parts of the checkout; what was locked."""
    locked = []
    for name in TEACHER_ONLY:
        path = repo / name
        if path.exists() and not path.is_symlink():
            os.chmod(path, stat.S_IMODE(path.stat().st_mode) & 0o700)
            locked.append(path)
    return locked


def check_readable(*paths: Path) -> None:
    """Every directory above and at ``paths`` must let others in; none may be writable by others."""
    for path in paths:
        path = path.resolve()
        for part in [*reversed(path.parents), path]:
            mode = part.stat().st_mode
            if not mode & stat.S_IXOTH or (part == path and not mode & stat.S_IROTH):
                raise RuntimeError(f"{part} is not readable by the students' accounts (mode "
                                   f"{stat.filemode(mode)}): install the course where others can read it")
            if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
                raise RuntimeError(f"{part} is writable by everyone: a student could change the course")
