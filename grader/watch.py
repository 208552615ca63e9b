"""Run a student's function with every Python function it calls recorded, and stop the forbidden ones.

Grading by what runs: however the answer reaches a reference or the library's
own implementation (a dict, an attribute, ``eval``, ``importlib``, ``gc``,
``functools.partial``, a lambda, an object's ``__call__``, a builtin that calls
back), the call enters that function's code, and the profiler sees it
(``sys.setprofile``; Python 3.11 has no ``sys.monitoring``). It identifies the
code by :class:`grader.forbidden.Forbidden` and raises :class:`Caught` into the
submission before the forbidden code runs. A few builtins no answer needs are
stopped the same way: searching the interpreter's memory or frames (``gc``,
``sys._getframe``), turning the profiler off, starting threads or processes,
and talking to another process (pipes, sockets).

The function runs in a thread of its own (``_thread``, so no hook that the
notebook gave ``threading`` comes with it), whose stack holds nothing of the
grader but :func:`watched_call`'s runner. Objects that exist when it starts are
frozen out of the cycle collector (``gc.freeze``) and the collector is off until
it returns: a collection that the answer's allocations trigger would otherwise
finalize someone else's garbage inside the watched run (a suspended generator of
an earlier grading, found in CI, was refused as the student's call). What the
answer made is then all in the youngest generation, collected before the watch
ends, so the finalizers of its own cycles are watched too. (A full collection
there would cost nothing while the rest is frozen, but it resets the collector's
count of old objects, and the next automatic one would then walk the whole
kernel: about 0.13 s after every trial.)

Before and after, :mod:`grader.tamper` looks for library functions that a
notebook replaced and for threads that are not the kernel's own. What the
profiler cannot see (a builtin called by a builtin) the audit hook of
:mod:`grader.audit` refuses.
"""

from __future__ import annotations

import _thread
import gc
import importlib
import socket
import sys
import types
from collections.abc import Callable
from typing import Any

from .audit import Gate
from .forbidden import Forbidden



class Caught(BaseException):
    """Raised into the submission when it calls a forbidden function (not an Exception,
    so ``except Exception`` in the answer does not hide it)."""


def _builtins(*names: str) -> dict[Any, str]:
    found = {}
    for name in names:
        module, _, attr = name.rpartition(".")
        value = getattr(sys.modules.get(module) or importlib.import_module(module), attr, None)
        if value is not None:
            found[value] = name
    return found


BANNED = _builtins(
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._getframe",
    "sys._current_frames", "sys.setprofile", "sys.settrace", "threading.setprofile",
    "_thread.start_new_thread", "os.fork", "os.forkpty", "os.system", "os.posix_spawn",
    "os.posix_spawnp", "os.execv", "os.execve", "os.read", "os.write", "os.pipe",
    "_posixsubprocess.fork_exec", "select.select", "select.poll",
)
"""Builtins no answer needs: memory and frame search, the profiler, threads, processes, pipes."""


def _banned(arg: Any) -> str | None:
    try:
        if arg in BANNED:
            return BANNED[arg]
    except TypeError:  # unhashable
        return None
    owner = getattr(arg, "__self__", None)
    if isinstance(owner, socket.socket):
        return f"socket.{getattr(arg, '__name__', 'call')}"
    return None


BEFORE_START: list[Callable[[], list]] = []
"""Checks run just before the answer's thread starts (:mod:`grader.child`: no signal handler may
be set, it would be given the waiting thread's frame); anything they return refuses the run."""
AFTER_RETURN: list[Callable[[], Any]] = []
"""Called on the answer's thread as soon as it returns, before the audit gate closes."""
STARTED = [0]
"""Threads :func:`watched_call` started (:mod:`grader.child` tells them from a submission's)."""

_GATES: list[Gate] = []
"""This grader load's one audit hook. A hook cannot be removed, so it is made once per load
(hidden tests load the grader afresh: one per graded exercise) and reused by every trial;
a hook per trial made an in-process run of 500 gradings slow down step by step."""


def _gate(hits: list[str]) -> Gate:
    if not _GATES:
        _GATES.append(Gate(hits, Caught))
    gate = _GATES[0]
    gate.open, gate.hits = False, hits
    return gate


def watched_call(fn: Callable[..., Any], args: tuple, rules: Forbidden) -> tuple[Any, list[str]]:
    """``fn(*args)`` in its own thread under the profiler, the calling thread watched too.

    The calling (grader's) thread only waits, but a signal handler of the notebook
    would run there: it gets the same profiler while it waits. The :class:`Gate`
    refuses the banned operations however they are reached (:mod:`grader.audit`).

    Returns:
        ``(result, reasons)``: the result (or the exception it raised, as a value) and
        why the run is not the student's own work (empty when it is).
    """
    hits: list[str] = []
    box: dict[str, Any] = {}
    done = _thread.allocate_lock()
    done.acquire()
    gate = _gate(hits)

    def profile(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            why = rules.why(frame.f_code)
        elif event == "c_call" and frame.f_code not in own:
            why = _banned(arg)
        else:
            return
        if why:
            hits.append(why)
            raise Caught(why)

    def runner() -> None:
        try:
            sys.settrace(None)
            gc.freeze()  # what exists now (the grader's garbage too) is finalized outside the run
            gc.disable()  # and what the run makes stays in the youngest generation
            sys.setprofile(profile)
            gate.open = True
            try:
                box["value"] = fn(*args)
            except BaseException as err:  # the student's error, or Caught
                box["value"] = err
            finally:
                if collecting:  # the answer's own cycles, finalized while it is still watched
                    gc.collect(0)  # (not a full one: see the module's docstring)
                for call in AFTER_RETURN:
                    call()
                gate.open = False
                box["intact"] = sys.getprofile() is profile
                sys.setprofile(None)
                gc.unfreeze()
                if collecting:
                    gc.enable()
        finally:
            done.release()

    for check in BEFORE_START:
        if found := check():
            return None, [f"设置了信号处理函数（{found[:3]}）"]
    own = (watched_call.__code__, runner.__code__)  # the grader's own c_calls
    collecting = gc.isenabled()  # (grader.child grades with the collector off)
    sys.setprofile(profile)
    try:
        STARTED[0] += 1
        _thread.start_new_thread(runner, ())
        while True:
            try:
                done.acquire()
                break
            except Caught:  # a signal handler's forbidden call (recorded): wait on
                pass
    finally:
        gate.open = False
        sys.setprofile(None)
    if not box.get("intact", False) and not hits:
        hits.append("评分时的调用跟踪被关掉了")
    return box.get("value"), hits
