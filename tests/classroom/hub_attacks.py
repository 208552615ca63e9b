"""What a hostile student runs on the production hub (cells), and the probes that watch it.

Used by test_hub_production.py: the cell sources are what the attacker types in a
notebook; the helpers look at the machine from outside (as root).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import hub_root
from ch9hub.start import copy_once  # noqa: E402 (deploy/jupyterhub, on sys.path via hub_root)

READS = """
import json, os
out = {}
for label, path, how in %r:
    try:
        os.listdir(path) if how == "list" else open(path, "rb").read(1)
        out[label] = "READ"
    except OSError as err:
        out[label] = type(err).__name__
print(json.dumps(out))
"""
TIMED = "import time\nt = time.perf_counter()\nsum(range(3 * 10**7))\nprint(time.perf_counter() - t)"
HOG = """
import os, time
hogs = []
for _ in range(16):
    pid = os.fork()
    if pid == 0:
        if %r:
            os.setsid()
        end = time.monotonic() + 60
        while time.monotonic() < end:
            pass
        os._exit(0)
    hogs.append(pid)
print(len(hogs))
"""
STOP_HOGS = "import signal\nfor p in hogs: os.kill(p, signal.SIGKILL)\nfor p in hogs: os.waitpid(p, 0)"
FORK_BOMB = """
import os, time, resource
children, error = [], None
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError as err:
        error = type(err).__name__
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
time.sleep(4)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(len(children), error, resource.getrlimit(resource.RLIMIT_NPROC)[0])
"""
RACER = """
import os, time
home = os.path.expanduser("~")
end = time.monotonic() + 120
while time.monotonic() < end:
    for name in (".ch9-interpret.partial", "ch9-interpret"):
        path = f"{home}/{name}"
        try:
            if os.path.isdir(path) and not os.path.islink(path):  # swap a fresh folder for a link
                os.rename(path, f"{home}/.moved-{time.monotonic_ns()}")
            os.symlink(%r, path)
        except OSError:
            pass
"""


LEAVE_RACER = """
import os, shutil, subprocess, sys
shutil.rmtree(os.path.expanduser("~/ch9-interpret"))
racer = subprocess.Popen([sys.executable, "-c", %r], start_new_session=True)  # outlives the kernel
print(racer.pid)
"""


def cgroups_of(uid: int) -> set[str]:
    """The memory, cpu and pids cgroups (v1; the unified one for v2) of every process of ``uid``."""
    wanted = {"memory", "cpu", "pids"} if hub_root.limits.cgroup_version() == 1 else {""}
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.stat().st_uid == uid:
                for line in (proc / "cgroup").read_text().splitlines():
                    _, controllers, path = line.split(":", 2)
                    if wanted & set(controllers.split(",")) or (controllers == "" and "" in wanted):
                        found.add(path)
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    """Running (a zombie that nobody reaped yet does not count)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def race_copy_as(account: pwd.struct_passwd, release: Path, target_dir: str, seconds: float = 4) -> None:
    """copy_once run over and over AS the student while a second process of theirs swaps in symlinks."""
    pids = []
    for role in ("copier", "racer"):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(account.pw_gid)
                os.setgroups([])
                os.setuid(account.pw_uid)
                home, end = Path(account.pw_dir), time.monotonic() + seconds
                while time.monotonic() < end:
                    try:
                        if role == "copier":
                            copy_once(release, home)
                            subprocess.run(["rm", "-rf", str(home / "ch9-interpret")], check=False)
                        else:
                            exec(RACER.replace("120", "0.05") % target_dir)
                    except OSError:
                        pass
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)


async def token_probes(hub, thief, victim) -> dict[str, int | list]:
    """What ``thief``'s token gets on ``victim``'s server and account, and what no token gets.

    Also the language settings the thief's own JupyterLab serves, and the thief's kernels
    before and after the anonymous attempt (which must not have started one).
    """
    own = f"/user/{thief.name}"
    before = (await hub.api("GET", f"{own}/api/kernels", thief.token)).body
    return {
        "server": (await hub.api("GET", f"/user/{victim.name}/api/kernels", thief.token)).code,
        "new kernel": (await hub.api("POST", f"/user/{victim.name}/api/kernels", thief.token, {})).code,
        "hub api": (await hub.api("GET", f"/hub/api/users/{victim.name}", thief.token)).code,
        "stop server": (await hub.api("DELETE", f"/hub/api/users/{victim.name}/server", thief.token)).code,
        "token": (await hub.api("POST", f"/hub/api/users/{victim.name}/tokens", thief.token, {})).code,
        "anonymous": (await hub.api("POST", f"{own}/api/kernels", None, {})).code,
        "language": (await hub.api("GET", f"{own}/lab/api/settings/"
                                   "@jupyterlab/translation-extension:plugin", thief.token)).body,
        "language packs": (await hub.api("GET", f"{own}/lab/api/translations/", thief.token)).body,
        "kernels before": [k["id"] for k in before],
        "kernels after": [k["id"] for k in (await hub.api("GET", f"{own}/api/kernels", thief.token)).body],
    }

