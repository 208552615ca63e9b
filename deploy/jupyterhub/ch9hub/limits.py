"""Per-student limits: one cgroup per student (memory, CPU, process count), and RLIMIT_NPROC.

Every process of a student (server, kernels, anything they start, ``setsid`` or
not) lives in ``<parent>/<unix name>`` of the memory, cpu and pids controllers
(cgroup v1, one hierarchy each under /sys/fs/cgroup) or of the unified tree
(cgroup v2). The directories belong to root, so a student cannot leave them.

* memory: the student's processes together get at most ``memory`` bytes, no swap;
  past it the kernel's OOM killer kills the largest of *their* processes (a
  kernel), nobody else's.
* CPU: every student has the same weight (v1 ``cpu.shares`` 1024 / v2
  ``cpu.weight`` 100), so when the machine is busy each student who wants CPU gets
  an equal part however many processes they run; and a quota of ``cpus`` cores.
  The class's parent group has a high weight, so the students together are not
  starved by other work on the machine.
* processes: ``pids.max`` (threads count) and, per uid, ``RLIMIT_NPROC``.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "pids")
PERIOD = 100_000  # CFS period, microseconds
CLASS_WEIGHT = {1: 102_400, 2: 10_000}  # the parent group's CPU weight (v1 shares, v2 weight)


def parse_size(text: str) -> int:
    """``'2.5G'``, ``'512M'``, ``'1048576'`` -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 2.5G, 512M)")
    return int(float(match[1]) * 1024 ** " KMGT".index(match[2].upper() or " "))


@dataclass(frozen=True)
class Limits:
    """What one student may use at most."""

    memory: int  # bytes, all their processes together
    cpus: float  # cores (CFS quota)
    pids: int  # processes and threads (cgroup pids.max and RLIMIT_NPROC)


def cgroup_version(root: Path = ROOT) -> int:
    """2 where the unified hierarchy is mounted at ``root``, 1 where v1 controllers are."""
    if (root / "cgroup.controllers").exists():
        return 2
    if all((root / c / "cgroup.procs").exists() for c in V1_CONTROLLERS):
        return 1
    raise RuntimeError(f"no writable cgroup v1 controllers {V1_CONTROLLERS} or cgroup v2 under {root}")


def _write(path: Path, value: str | int) -> None:
    path.write_text(f"{value}\n")


class StudentCgroup:
    """The cgroup(s) of one student: create with limits, join (before exec), kill all, remove."""

    def __init__(self, parent: str, name: str, root: Path = ROOT) -> None:
        self.root, self.parent, self.name = Path(root), parent, name
        self.version = cgroup_version(self.root)

    def dirs(self) -> list[Path]:
        if self.version == 2:
            return [self.root / self.parent / self.name]
        return [self.root / c / self.parent / self.name for c in V1_CONTROLLERS]

    def _dir(self, controller: str) -> Path:
        return self.dirs()[0] if self.version == 2 else self.root / controller / self.parent / self.name

    def create(self, limits: Limits) -> None:
        """Make the cgroup(s) and set the limits (idempotent)."""
        if self.version == 2:
            for where in (self.root, self.root / self.parent):
                where.mkdir(exist_ok=True)
                _write(where / "cgroup.subtree_control", "+memory +cpu +pids")
            _write(self.root / self.parent / "cpu.weight", CLASS_WEIGHT[2])
        else:
            for c in V1_CONTROLLERS:
                (self.root / c / self.parent).mkdir(exist_ok=True)
            _write(self.root / "cpu" / self.parent / "cpu.shares", CLASS_WEIGHT[1])
        for d in self.dirs():
            d.mkdir(exist_ok=True)
        quota = max(1000, int(limits.cpus * PERIOD))
        if self.version == 2:
            d = self._dir("")
            _write(d / "memory.max", limits.memory)
            _write(d / "memory.swap.max", 0)
            _write(d / "cpu.weight", 100)
            _write(d / "cpu.max", f"{quota} {PERIOD}")
            _write(d / "pids.max", limits.pids)
            return
        memory = self._dir("memory")
        try:  # memory.memsw (memory + swap) must stay >= memory: order depends on old values
            _write(memory / "memory.limit_in_bytes", limits.memory)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", limits.memory)
        except OSError:
            _write(memory / "memory.memsw.limit_in_bytes", limits.memory)
            _write(memory / "memory.limit_in_bytes", limits.memory)
        _write(self._dir("cpu") / "cpu.shares", 1024)
        _write(self._dir("cpu") / "cpu.cfs_period_us", PERIOD)
        _write(self._dir("cpu") / "cpu.cfs_quota_us", quota)
        _write(self._dir("pids") / "pids.max", limits.pids)

    def join(self) -> None:
        """Move the calling process into the cgroup(s); its children follow. For a preexec_fn."""
        pid = str(os.getpid())
        for d in self.dirs():
            with open(d / "cgroup.procs", "w") as f:
                f.write(pid)

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs():
            try:
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except FileNotFoundError:
                pass
        return found

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process of the student (again until none is left, e.g. mid-fork)."""
        deadline = time.monotonic() + timeout
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup directories."""
        self.kill()
        for d in self.dirs():
            try:
                d.rmdir()
            except FileNotFoundError:
                pass

    def oom_kills(self) -> int:
        return oom_kills(self._dir("memory"))


def oom_kills(memory_dir: Path) -> int:
    """How many processes the OOM killer killed in this memory cgroup (v1 or v2)."""
    for name in ("memory.oom_control", "memory.events"):
        try:
            text = (memory_dir / name).read_text()
        except FileNotFoundError:
            continue
        match = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
        return int(match[1]) if match else 0
    return 0


def own_memory_cgroup() -> Path:
    """The memory cgroup directory of the calling process (v1 memory line, or the v2 line)."""
    lines = dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().splitlines())
    if "memory" in lines:
        return ROOT / "memory" / lines["memory"].lstrip("/")
    return ROOT / lines.get("", "/").lstrip("/")


def limit_processes(n: int) -> None:
    """RLIMIT_NPROC for the calling process (counted per uid), before it drops to the student's uid."""
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
