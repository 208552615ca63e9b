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
grader but :func:`watched_call`'s runner.

Before and after, :func:`tampered` looks for library functions (torch, numpy,
builtins...) that a notebook replaced with its own code, and
:func:`foreign_threads` for threads of the notebook still running.
"""

from __future__ import annotations

import _thread
import builtins
import copy
import functools
import gc
import importlib
import math
import os
import select
import socket
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audit import Gate
from .forbidden import _CELL, Forbidden, compiled_at_run_time, qualname

ROOT = Path(__file__).resolve().parent.parent


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
    gate = Gate(hits, Caught)

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
            sys.setprofile(profile)
            gate.open = True
            try:
                box["value"] = fn(*args)
            except BaseException as err:  # the student's error, or Caught
                box["value"] = err
            finally:
                gate.open = False
                box["intact"] = sys.getprofile() is profile
                sys.setprofile(None)
        finally:
            done.release()

    own = (watched_call.__code__, runner.__code__)  # the grader's own c_calls
    sys.setprofile(profile)
    try:
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


# ------------------------------------------------------------ tampering ---

_TRUSTED = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                    ROOT / "helpers", ROOT / "grader")})


def _untrusted_code(value: Any) -> bool:
    for _ in range(4):  # unwrap partials and bound methods
        if isinstance(value, functools.partial):
            value = value.func
        elif isinstance(value, types.MethodType):
            value = value.__func__
        else:
            break
    if isinstance(value, types.FunctionType):
        return not _trusted_file(value.__code__.co_filename)
    # a class, or an object whose class has __call__ (``np.allclose = Yes()``): the notebook's
    # code then runs through the class's methods
    cls = value if isinstance(value, type) else type(value)
    return any(_untrusted_method(k, f) for k in cls.__mro__ for f in list(vars(k).values()))


def _untrusted_method(owner: type, f: Any) -> bool:
    """A method typed in a notebook or read from a file outside the trusted folders; or compiled at
    run time (``exec``) for a class whose module is not such a file (namedtuple's and dataclasses'
    generated methods belong to a library module and are trusted)."""
    f = getattr(f, "__func__", f)  # staticmethod, classmethod
    if not isinstance(f, types.FunctionType):
        return False
    name = f.__code__.co_filename
    if _CELL.search(name) or (os.path.isfile(name) and not _trusted_file(name)):
        return True
    if compiled_at_run_time(name):
        home = getattr(sys.modules.get(str(getattr(owner, "__module__", ""))), "__file__", None)
        return not (isinstance(home, str) and _trusted_file(home))
    return False


@functools.lru_cache(maxsize=8192)
def _trusted_file(filename: str) -> bool:
    """A file of the interpreter, its site-packages, helpers or grader (frozen stdlib included)."""
    if filename.startswith("<frozen "):
        return True
    return os.path.isfile(filename) and str(Path(filename).resolve()).startswith(_TRUSTED)


_RELIED_ON = {sys: ("getprofile", "setprofile", "settrace", "_current_frames"),
              _thread: ("start_new_thread", "allocate_lock", "get_ident")}


def tampered() -> list[str]:
    """Library functions a notebook replaced with its own code (``np.allclose = lambda ...``),
    and the builtins this module relies on when they are not the interpreter's own."""
    spaces = {"builtins": builtins, "sys": sys, "gc": gc, "os": os, "math": math, "copy": copy,
              "functools": functools, "importlib": importlib, "threading": threading,
              "select": select, "numpy": np, "numpy.ndarray": np.ndarray, "torch": torch,
              "torch.Tensor": torch.Tensor, "torch.nn.functional": torch.nn.functional,
              "torch.nn.Module": torch.nn.Module, "torch.autograd": torch.autograd}
    found = [f"{module.__name__}.{name}" for module, names in _RELIED_ON.items() for name in names
             if not (isinstance(getattr(module, name, None), types.BuiltinFunctionType)
                     and getattr(module, name).__self__ is module)]
    for label, space in spaces.items():
        lib = label.partition(".")[0]
        homes = _HOMES.get(lib, ()) + (lib,) if lib in _HOMES else None  # (the verdict's libraries)
        for name, value in list(vars(space).items()):
            if _untrusted_code(value) or homes and _foreign(name, value, homes):
                found.append(f"{label}.{name}")
    return found


_HOMES = {"numpy": (), "torch": ("typing", "typing_extensions")}
"""The libraries the verdicts compare with, and the packages their namespaces also hold callables of."""
_DESCRIPTORS = (types.MethodDescriptorType, types.WrapperDescriptorType, types.ClassMethodDescriptorType)


def _foreign(name: str, value: Any, homes: tuple[str, ...], depth: int = 0) -> bool:
    """A callable of another package in numpy's or torch's namespace (``numpy.allclose = 'yes'.format``,
    ``= unittest.mock.MagicMock(...)``, ``= functools.partial(...)``): trusted code, the wrong function."""
    if isinstance(value, types.ModuleType) or not callable(value) or depth > 3:
        return False
    if isinstance(value, _DESCRIPTORS):
        home = value.__objclass__.__module__
    elif isinstance(value, type):  # a class imported under its own name is the library's import
        home = value.__module__ if value.__name__ != name.lstrip("_") else homes[-1]
        home = homes[-1] if home == "builtins" else home  # int, type(module): no (a, b, atol=) call
    elif isinstance(value, types.BuiltinFunctionType):
        owner = value.__self__  # a module, a class, or an object ('yes'.format: a str)
        home = owner.__name__ if isinstance(owner, types.ModuleType) else \
            owner.__module__ if isinstance(owner, type) else value.__module__
    elif isinstance(value, types.FunctionType):
        home = value.__module__
    else:  # an object: its class decides (an instance's __module__ can be set)
        home = type(value).__module__
        inner = getattr(value, "__wrapped__", None) or getattr(value, "func", None)
        if home == "functools" and inner is not None:  # lru_cache, partial: what they wrap
            return isinstance(value, functools.partial) or _foreign(name, inner, homes, depth + 1)
    return str(home).partition(".")[0] not in homes


def foreign_threads() -> list[str]:
    """Threads (other than this one) running code typed in the notebook or compiled at run time."""
    me, found = _thread.get_ident(), []
    for ident, frame in sys._current_frames().items():
        while ident != me and frame is not None:
            if _CELL.search(frame.f_code.co_filename) or compiled_at_run_time(frame.f_code.co_filename):
                found.append(f"thread {ident}: {qualname(frame.f_code)}")
                break
            frame = frame.f_back
    return found
