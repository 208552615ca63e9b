"""Grading one exercise for nbgrader: the check's verdict, never its printed mark.

The hidden test of every autograded exercise calls :func:`grade`. It runs the
exercise's own check (fresh random inputs against the reference, as the instant
✓/✗ check does) from a *fresh copy* of ``helpers.exercises`` loaded from disk,
so a student who replaced ``exercises.x.check_y`` in the notebook grades
against the real check. Before that it rejects answers that are not the
student's own work:

* the reference itself, under any name (``f = exercises.cam.ref_gradcam_map``,
  ``from helpers.exercises.cam import ref_gradcam_map as f``);
* a function, lambda or ``functools.partial`` that calls into
  ``helpers.exercises`` (through its globals, closure, defaults or attributes);
* a function that reads the caller's frame (where the expected value lives);
* results that are not plain values (an object whose ``__eq__`` always says
  True passes any ``==`` comparison).

Printing "✓" earns nothing: only the check's return value counts.

Limits: the hidden test runs in the student's kernel. A student who rewrites
torch, numpy or this module from a notebook cell can still fool it; the teacher
sees such code in the submission. Pair it with the grader kernel
(``course/grader_kernel.py``), which keeps a submission from writing outside.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib
import importlib.util
import io
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

_PACKAGE_DIR = Path(__file__).resolve().parent
_FRESH_NAME = "_ch9_grading_fresh_helpers"
_EXERCISE_PREFIXES = ("helpers.exercises", f"{_FRESH_NAME}.exercises")
# names that only code reading the caller's frame (or tracing it) needs
_FRAME_NAMES = frozenset({"_getframe", "f_back", "f_locals", "f_globals", "currentframe",
                          "getouterframes", "tb_frame", "gi_frame", "settrace", "setprofile"})


class GradingError(AssertionError):
    """An answer that earns no points, with the reason in Chinese."""


def fresh_exercises() -> types.ModuleType:
    """``helpers.exercises`` executed afresh from disk (cached for this kernel).

    Copies of our own modules are made under a private package name; torch,
    numpy and the other libraries are shared with the notebook.
    """
    name = f"{_FRESH_NAME}.exercises"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _FRESH_NAME, _PACKAGE_DIR / "__init__.py", submodule_search_locations=[str(_PACKAGE_DIR)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[_FRESH_NAME] = package
        spec.loader.exec_module(package)
    return importlib.import_module(name)


def _from_exercises(obj: Any) -> bool:
    """True for a module of helpers.exercises or anything defined in one."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__.startswith(_EXERCISE_PREFIXES) or obj.__name__ in ("helpers", _FRESH_NAME)
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and module.startswith(_EXERCISE_PREFIXES)


def _exercise_names() -> set[str]:
    """Names of every function defined in helpers.exercises (the references among them)."""
    names = set()
    for mod_name, mod in list(sys.modules.items()):
        if mod is not None and mod_name.startswith(_EXERCISE_PREFIXES):
            names |= {k for k, v in vars(mod).items() if callable(v) and _from_exercises(v)}
    return names


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def borrowed(fn: Any, _seen: set[int] | None = None) -> str | None:
    """Why ``fn`` is not the student's own work, or None.

    Follows ``partial``, bound methods, ``__wrapped__`` and callable objects;
    for a Python function it looks at every global and attribute name its code
    (nested functions included) uses, its closure and its default arguments.
    """
    seen = _seen if _seen is not None else set()
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if _from_exercises(fn):
        return f"它就是 helpers.exercises 里的 {getattr(fn, '__qualname__', fn)!s}（参考答案）"
    inner = [getattr(fn, a) for a in ("func", "__func__", "__wrapped__") if hasattr(fn, a)]
    if isinstance(fn, functools.partial):
        inner += [*fn.args, *fn.keywords.values()]
    elif callable(fn) and not isinstance(fn, (types.FunctionType, types.MethodType, type)):
        inner.append(type(fn).__call__)  # an object with __call__
    for obj in inner:
        if _from_exercises(obj):
            return "它包装了 helpers.exercises 里的参考答案"
        if callable(obj) and (why := borrowed(obj, seen)):
            return why
    if not isinstance(fn, types.FunctionType):
        return None
    names = set().union(*(c.co_names for c in _code_objects(fn.__code__)))
    if names & _FRAME_NAMES:
        return f"它读取调用者的栈帧（{', '.join(sorted(names & _FRAME_NAMES))}），那里存着期望答案"
    reference_names = _exercise_names()
    for name in sorted(names):
        value = fn.__globals__.get(name, getattr(builtins, name, None))
        if _from_exercises(value):
            return f"它通过全局名 {name} 调用了 helpers.exercises"
        if value is None and name in reference_names:
            return f"它调用了 helpers.exercises 里的 {name}（参考答案）"
    captured = [c.cell_contents for c in (fn.__closure__ or ()) if c.cell_contents is not c]
    captured += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    for obj in captured:
        if _from_exercises(obj):
            return "它把参考答案存在闭包或默认参数里"
        if isinstance(obj, types.FunctionType) and (why := borrowed(obj, seen)):
            return why
    return None


def _plain(value: Any) -> bool:
    """True for numbers, strings, None, exact tensors/arrays and lists/tuples of them."""
    kind = type(value)
    if kind in (list, tuple):
        return all(_plain(v) for v in value)
    if kind in (torch.Tensor, np.ndarray, int, float, bool, str, type(None)):
        return True
    return isinstance(value, np.generic) and kind.__module__ == "numpy"


def _only_plain_results(fn: Callable) -> Callable:
    def answer(*args, **kwargs):
        out = fn(*args, **kwargs)
        if not _plain(out):
            raise TypeError(f"返回值的类型 {type(out).__name__} 不是普通的数、字符串、列表、数组或张量")
        return out

    return answer


def _resolve(check: str) -> Callable:
    """The check ``"module.check_x"`` (or ``"check_x"``) of the fresh helpers.exercises."""
    package = fresh_exercises()
    module_name, _, check_name = check.rpartition(".")
    module = importlib.import_module(f"{package.__name__}.{module_name}") if module_name else package
    return getattr(module, check_name)


def grade(check: str, name: str, namespace: Mapping[str, Any]) -> None:
    """The hidden test of one exercise: pass silently (full points) or raise GradingError.

    Args:
        check: the check's path inside ``helpers.exercises``, e.g. ``"cam.check_gradcam_map"``.
        name: the name of the student's function in the notebook.
        namespace: the notebook's globals (``globals()``).

    Raises:
        GradingError: the function is missing, not the student's own, or wrong
            on fresh random inputs; the message says which, in Chinese.
    """
    if name not in namespace:
        raise GradingError(f"没有找到函数 {name}：答案单元格是不是被删掉或改了名字？本题 0 分。")
    fn = namespace[name]
    if not callable(fn):
        raise GradingError(f"{name} 不是函数（它是 {type(fn).__name__}）。本题 0 分。")
    if why := borrowed(fn):
        raise GradingError(f"{name} 不是你自己写的：{why}。本题 0 分。")
    check_fn = _resolve(check)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ok = check_fn(_only_plain_results(fn))
    if ok is not True:
        raise GradingError(f"{name} 在评分用的新随机输入上没有通过：\n{printed.getvalue().strip()}")
    print(f"✓ {name}：评分通过")
