"""The single-user server's start-up command, run AS THE STUDENT: copy the course once, start the server.

Usage (Spawner.cmd): ``python .../ch9hub/start.py <jupyterhub-singleuser> [server args...]``.
The release (student edition / nbgrader release notebooks, built by the hub in a
root-owned folder, :mod:`ch9hub.release`) is copied into ``~/ch9-interpret`` on the
first start only, through ``~/.ch9-interpret.partial`` and a rename, so a start
that was interrupted copies again. Files are created with umask 077 (0600).
Because this runs with the student's uid, a link the student planted can only
lead where the student may already write.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

COURSE = "ch9-interpret"


def copy_once(release: Path, home: Path) -> str:
    """Copy ``release``'s notebooks into ``home/ch9-interpret`` unless it exists; what happened."""
    target = home / COURSE
    if target.exists() or target.is_symlink():
        return "kept"
    partial = home / f".{COURSE}.partial"
    if partial.is_symlink() or partial.is_file():
        partial.unlink()
    elif partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    for notebook in sorted(release.glob("*.ipynb")):
        shutil.copyfile(notebook, partial / notebook.name)  # no copystat: umask 077 holds
    os.rename(partial, target)
    return "copied"


def main(argv: list[str]) -> None:
    os.umask(0o077)
    try:
        copy_once(Path(os.environ["CH9_HUB_RELEASE"]), Path.home())
    except OSError as err:  # the server starts anyway; the student sees no course copy
        print(f"ch9-interpret: could not copy the course into {Path.home() / COURSE}: {err}", file=sys.stderr)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
