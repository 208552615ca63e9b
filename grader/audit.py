"""Operations refused while an answer is graded, seen by an audit hook (PEP 578) whatever the route.

The profiler of :mod:`grader.watch` sees a builtin only when Python bytecode
calls it: a builtin called by another builtin (``map(sys.setprofile, [None])``,
``itertools.starmap(gc.get_objects, [()])``) makes no ``c_call`` event. The
interpreter raises an *audit event* inside these operations themselves, from
any caller and any thread, so a :class:`Gate` refuses them while it is open:
turning the profiler or a tracer on or off, searching memory (``gc``), taking a
frame (``sys._getframe``, ``sys._current_frames``, a traceback's ``tb_frame``,
a generator's ``gi_frame``: the watcher's frame holds its state), signalling
(``os.kill``: a signal handler runs on the grader's thread), processes,
sockets, ``ctypes`` and removing audit hooks.

Python 3.11 raises no audit event when a thread starts, so a thread started
through a builtin (``map(_thread.start_new_thread, ...)``) runs unwatched in the
kernel; the second verdict (:mod:`grader.child`) counts threads by its PID
namespace instead (docs/teaching.md). An audit hook cannot be removed: each hidden test adds
one, which does nothing once its gate is closed.
"""

from __future__ import annotations

import sys
import types

EVENTS = frozenset({
    "sys.setprofile", "sys.settrace", "sys._getframe", "sys._current_frames", "sys.addaudithook",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "os.system", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "signal.pthread_kill", "subprocess.Popen", "os.startfile",
})
PREFIXES = ("ctypes.", "socket.", "os.exec", "os.spawn", "os.posix_spawn", "cpython.", "_posixsubprocess")
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
"""Attributes that hand out a frame (``object.__getattr__`` events); ``f_code`` and ``__code__``,
which the profiler itself reads, are not among them."""


class Gate:
    """One grading's audit hook: while :attr:`open`, a refused event (any thread) is recorded
    in ``hits`` and raised as ``caught`` into the code that caused it.

    Args:
        hits: where the reasons go (shared with the profiler).
        caught: the exception raised (a BaseException, so ``except Exception`` does not hide it).

    Raises:
        AssertionError: ``sys.addaudithook`` is not the interpreter's own.
    """

    def __init__(self, hits: list[str], caught: type[BaseException]) -> None:
        add = sys.addaudithook
        assert isinstance(add, types.BuiltinFunctionType) and add.__self__ is sys, \
            "笔记本替换了 sys.addaudithook。本题 0 分。"
        self.open = False
        self.hits, self.caught = hits, caught
        add(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if not self.open or self.hits and event == "sys.setprofile":
            return  # (the interpreter drops a profiler that raised: the answer is already refused)
        if event in EVENTS or event.startswith(PREFIXES):
            why = event
        elif event == "object.__getattr__" and len(args) > 1 and args[1] in FRAME_ATTRIBUTES:
            why = f"取栈帧（{args[1]}）"
        else:
            return
        self.hits.append(why)
        raise self.caught(why)
