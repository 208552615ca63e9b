"""Shared by the production-mode hub tests: can they run here, clean-up, starting a root hub.

The production hub (``sudo make hub``) creates unix accounts and cgroups, so its
tests need root and writable cgroups. Without them they skip with the reason,
and under ``CI=true`` they fail instead. Everything they create carries the
test's own names (accounts ``ch9t-*`` and ``ch9tta1``, cgroup ``ch9test``, state in
/var/tmp/ch9t-hub-*), and :func:`clean` removes it, including what a killed
earlier run left behind.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB_DIR = ROOT / "deploy" / "jupyterhub"
sys.path.insert(0, str(HUB_DIR))
import simulate  # noqa: E402
from ch9hub import limits  # noqa: E402
from ch9hub.release import TEACHER_ONLY  # noqa: E402

PREFIX = "ch9t-"  # the test hub's account prefix (production default: ch9-)
CGROUP = "ch9test"
LOCAL_ACCOUNT = "ch9tta1"  # an existing local account (a teaching assistant's) in the take-over probe
TEACHER_PASSWORD = "teacher-" + os.urandom(6).hex()
PROXY = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"


def why_not() -> str | None:
    """Why the production hub cannot be tested on this machine, or None."""
    if os.geteuid() != 0:
        return "the production hub runs as root (it creates unix accounts and cgroups): run as root"
    if not shutil.which("useradd") or not shutil.which("unshare"):
        return "no useradd or unshare on this machine"
    if not PROXY.exists():
        return "configurable-http-proxy is not installed: run `make hub-install`"
    try:
        limits.cgroup_version()
    except RuntimeError as err:
        return str(err)
    return None


def require_root_hub() -> None:
    """Skip with the reason, or fail under CI=true."""
    reason = why_not()
    if reason and os.environ.get("CI"):
        pytest.fail(f"production hub test cannot run under CI: {reason}")
    if reason:
        pytest.skip(reason)


def _ours(entry: pwd.struct_passwd) -> bool:
    return entry.pw_name.startswith(PREFIX) or entry.pw_name == LOCAL_ACCOUNT


def clean() -> None:
    """Kill and remove the test's cgroups, accounts and state (also a killed run's leftovers)."""
    version = limits.cgroup_version()
    parents = [limits.ROOT / CGROUP] if version == 2 else [limits.ROOT / c / CGROUP for c in limits.V1_CONTROLLERS]
    for parent in parents:
        for child in parent.glob("*/") if parent.is_dir() else []:
            limits.StudentCgroup(CGROUP, child.name).remove()
    for parent in parents:
        if parent.is_dir():
            parent.rmdir()
    for entry in pwd.getpwall():
        if _ours(entry):
            subprocess.run(["pkill", "-KILL", "-U", str(entry.pw_uid)], check=False)
            subprocess.run(["userdel", "--force", "--remove", entry.pw_name], check=False, capture_output=True)
            subprocess.run(["groupdel", entry.pw_name], check=False, capture_output=True)
    for old in Path("/var/tmp").glob("ch9t-*"):
        shutil.rmtree(old, ignore_errors=True)


def python_wrapper(state: Path) -> list[str]:
    """A command prefix that lets the students' accounts run this Python and read this checkout,
    or [] when they already can.

    A school installs the course's Python and checkout where everyone may read them (/usr,
    /opt; docs/teaching.md 7.2, and the hub refuses to start otherwise). A developer's venv
    is often built on a Python under a private home (pyenv in /root, 0700), and a test
    clone may sit in a private temporary folder (mktemp -d, 0700). Then the hub runs in its
    own mount namespace where each such folder is replaced by an empty, readable tmpfs with
    only the Python installation and the checkout bound back into it; nothing else of those
    folders is visible to the hub or the students.
    """
    needed = [Path(sys.base_prefix).resolve(), ROOT.resolve()]
    blocked = {}
    for path in needed:
        hit = next((p for p in [*reversed(path.parents), path]
                    if not p.stat().st_mode & stat.S_IXOTH), None)
        if hit is not None:
            blocked[path] = hit
    if not blocked:
        return []
    tops = sorted({b for b in blocked.values()
                   if not any(o != b and o in b.parents for o in blocked.values())}, key=str)
    binds, restores = [], []
    for i, path in enumerate(sorted(blocked, key=str)):
        stash = state / f"bind-{i}"
        stash.mkdir()
        binds.append(f"mount --bind {path} {stash}")
        restores.append(f"mkdir -p {path} && mount --bind {stash} {path}")
    script = " && ".join([*binds, *(f"mount -t tmpfs -o mode=0755 tmpfs {t}" for t in tops),
                          *restores, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


@contextmanager
def root_hub(env: dict[str, str]) -> Iterator[simulate.Hub]:
    """A production-mode hub on free loopback ports; afterwards everything is removed again."""
    clean()
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (ROOT / n for n in TEACHER_ONLY) if p.exists()}
    state = Path(tempfile.mkdtemp(prefix="ch9t-hub-", dir="/var/tmp"))
    state.chmod(0o755)  # the students read the release under it; private/ stays root-only
    env = {"CH9_HUB_ADMIN_PASSWORD": TEACHER_PASSWORD, "CH9_HUB_USER_PREFIX": PREFIX, "CH9_HUB_CGROUP": CGROUP,
           "PYTHONPATH": str(ROOT), **env}
    try:
        with simulate.Hub(state, env=env, mode="production", wrapper=python_wrapper(state)) as hub:
            yield hub
    finally:
        clean()
        for path, mode in modes.items():  # the test leaves the checkout as it found it
            path.chmod(mode)
