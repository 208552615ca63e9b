"""IPython extension for the students' kernels: say why a kernel died when it ran out of memory.

Loaded by the hub's kernelspec (``--ext=ch9hub.oom``, :mod:`ch9hub.release`). The
kernel killed by the student's memory limit cannot speak; its restarted successor
can: on its first cell it compares the OOM-kill counter of the student's cgroup
with the last one seen (``~/.local/share/ch9-hub/oom_kills``) and, if it grew,
prints in the cell's output why the kernel was restarted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .limits import oom_kills, own_memory_cgroup

SEEN = Path.home() / ".local" / "share" / "ch9-hub" / "oom_kills"


def _limit_text(memory_dir: Path) -> str:
    for name in ("memory.limit_in_bytes", "memory.max"):
        try:
            return f"{int((memory_dir / name).read_text()) / 2**30:.1f} GiB"
        except (FileNotFoundError, ValueError):
            continue
    return "上限"


def _record(count: int) -> None:
    SEEN.parent.mkdir(parents=True, exist_ok=True)
    SEEN.write_text(str(count))


def message(memory_dir: Path) -> str | None:
    """The explanation to print, if the OOM killer killed one of the student's processes since last seen.

    The counter is recorded only when the explanation is returned (the caller prints it at
    once) or when none was recorded yet, so a kernel that is restarted again before it runs
    a cell does not use up the explanation.
    """
    now = oom_kills(memory_dir)
    if not SEEN.is_file():
        _record(now)
        return None
    if now <= int(SEEN.read_text()):
        return None
    _record(now)
    return (f"⚠ 你的一个内核被系统停止了（这个笔记本的内核如果刚刚自动重启，就是它）："
            f"你的进程合起来用的内存超过了每人的上限 {_limit_text(memory_dir)}（内存不足，OOM），"
            "系统停掉了其中最大的一个。"
            "之前的变量都没有了：请从第一个单元格重新运行，并关掉不用的笔记本的内核"
            "（Running Terminals and Kernels → Shut Down）。"
            f"\n(ch9-interpret: a process of yours was killed for exceeding the memory limit; OOM kills: {now})")


def load_ipython_extension(ip) -> None:
    memory_dir = own_memory_cgroup()
    if not SEEN.is_file():
        _record(oom_kills(memory_dir))  # the baseline, before any kill of this student

    def explain(*_args) -> None:
        text = message(memory_dir)
        if text:
            print(text, file=sys.stderr)

    ip.events.register("pre_run_cell", explain)
