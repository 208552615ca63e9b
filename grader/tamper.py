"""What a notebook changed outside its answer: library functions replaced, threads left running.

Looked at by :func:`grader.grading.grade` before and after the watched call
(:mod:`grader.watch`): library functions (torch, numpy, builtins...) that a
notebook replaced with its own code or with a callable of another package, and
threads that are not the kernel's own.
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
import sys
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .forbidden import _CELL, compiled_at_run_time, qualname

ROOT = Path(__file__).resolve().parent.parent


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
    # code then runs through the class's methods, or through what the object holds
    # (``np.vectorize(lambda ...)``)
    cls = value if isinstance(value, type) else type(value)
    try:  # the object's own dict, past any __getattr__ of its class (which may warn or compute)
        held = [] if isinstance(value, type) else list(object.__getattribute__(value, "__dict__").values())
    except (AttributeError, TypeError):
        held = []
    return any(_untrusted_method(k, f) for k in cls.__mro__ for f in list(vars(k).values())) or \
        any(type(v) is types.FunctionType and _untrusted_method(cls, v) for v in held)  # (not isinstance:
    # it reads __class__, which a deprecated torch object answers with a warning on stderr)


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
        homes = _HOMES.get(lib, ()) + (lib,) if lib in _HOMES and label not in _OPEN_CLASSES else None
        for name, value in list(vars(space).items()):
            if _untrusted_code(value) or homes and _foreign(name, value, homes):
                found.append(f"{label}.{name}")
    return found


_HOMES = {"numpy": (), "torch": ("typing", "typing_extensions")}
_OPEN_CLASSES = ("torch.nn.Module",)
"""Classes that other libraries extend by design (transformers sets ``nn.Module.smart_apply``
when it builds a model, as notebook 9.3 does): only notebook code is looked for there."""
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


_KERNEL = ("ipykernel", "IPython", "jupyter_client", "zmq", "tornado", "traitlets", "comm", "tqdm",
           "ipywidgets", "debugpy")
"""The packages whose threads a kernel runs by itself (I/O, heartbeat, history, progress bars)."""


def foreign_threads() -> list[str]:
    """Threads (other than this one) that are not the kernel's own: running code typed in the
    notebook or compiled at run time, or any other body, such as an idle pool's worker
    (``ThreadPoolExecutor``), which would run a reference handed to it while the answer is graded."""
    me, found = _thread.get_ident(), []
    for ident, frame in sys._current_frames().items():
        body = None  # the outermost frame above threading's own
        while ident != me and frame is not None:
            if _CELL.search(frame.f_code.co_filename) or compiled_at_run_time(frame.f_code.co_filename):
                found.append(f"thread {ident}: {qualname(frame.f_code)}")
                break
            if frame.f_code.co_filename != threading.__file__:
                body = frame
            frame = frame.f_back
        else:  # (a body of builtins alone, e.g. deque(map(call, iter(queue.get, None))), is no kernel's)
            if ident != me and (body is None or not _kernel_file(body.f_code.co_filename)):
                found.append(f"thread {ident}: {qualname(body.f_code) if body else '(builtins)'}")
    return found


@functools.lru_cache(maxsize=256)
def _kernel_file(filename: str) -> bool:
    parts = Path(filename).parts
    return _trusted_file(filename) and any(p in _KERNEL for p in parts[-4:-1])
