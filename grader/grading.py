"""The hidden test of one exercise for nbgrader: fresh random inputs, the reference, what runs.

The hidden test of every autograded exercise calls :func:`grade`. It draws new
inputs for the exercise (its :class:`helpers.exercises.core.Exercise`, taken from
a *fresh copy* of ``helpers`` loaded from disk, so a notebook that replaced a
check or a library function grades against the real ones), runs the student's
function under :func:`grader.watch.watched_call`, and only then computes the
expected value with the reference, loaded afresh from ``grader/references.py``
(no expected value exists while the student's code runs). An answer earns
nothing when

* it calls a reference, a check, or the library's own implementation of the same
  computation (:mod:`grader.forbidden`), however it reaches them; or it searches
  memory or frames, turns the profiler off, starts threads or processes;
* it is wrong on the new inputs, or returns something that is not a plain value
  (an object whose ``__eq__`` always says True);
* the notebook replaced torch, numpy or builtin functions with its own code, or
  left a thread of its own running.

Before running anything, :func:`borrowed` looks at the function statically, only
to say early and plainly what is wrong (the reference under another name, a
wrapper around it, reading the caller's frame). Printing "✓" earns nothing.

The hidden test does not import this package: :mod:`grader.boot` loads it
afresh from its files, outside ``sys.modules``, on builtins it checked, so a
notebook that rewrote ``grader`` in the kernel (``grader.grade = ...``,
``sys.modules['grader']``, ``builtins.__import__``) is graded by the real one.
Limits (one process, the student's): ``ctypes``, a trace function that rewrites
the loader's variables, or an IPython input transformer can still fool it. So
nbgrader autograde grades every exercise a second time with this same function in
a process of its own (:mod:`grader.isolated`), and a test cell keeps its points only
when both pass. The grader kernel (``course/grader_kernel.py``) keeps a submission
from writing outside.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import io
import re
import secrets
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .forbidden import READERS, forbidden, place
from .tamper import foreign_threads, tampered
from .watch import watched_call

ROOT = Path(__file__).resolve().parent.parent
_FRESH = "_ch9_grading_fresh_helpers"
_loaded: list[types.ModuleType] = []  # the fresh copy this module made
_BOOTED = re.compile(r"^_ch9_fresh_[0-9a-f]+\.")  # grader.boot's prefix of module names
_boot: list[Any] = []  # the hidden test's loader (grader.boot.Fresh), when it loaded this module
KEEP_ALIVE = False
KEEP: list[Any] = []
"""What the student's function was given and gave back, kept alive by :mod:`grader.child` (an
object of the answer's, freed inside the grader's own code, would run its ``__del__`` there)."""
# names that only code reading the caller's frame (or tracing it) needs
_FRAME_NAMES = frozenset({"_getframe", "f_back", "f_locals", "f_globals", "currentframe",
                          "getouterframes", "tb_frame", "gi_frame", "settrace", "setprofile"})


class GradingError(AssertionError):
    """An answer that earns no points, with the reason in Chinese."""


def use_fresh(loader: Any) -> None:
    """Take ``helpers.exercises`` and the references from the hidden test's loader (:mod:`grader.boot`),
    which reads them from their files outside ``sys.modules`` and the notebook's import machinery."""
    _boot[:] = [loader]
    READERS[:] = [loader.read]  # grader.forbidden reads the references' code the same way


def fresh_exercises() -> types.ModuleType:
    """``helpers.exercises`` executed afresh from ``helpers/`` next to this package (once per kernel).

    Our own modules are copied under a private package name (or, in the hidden
    test, by :mod:`grader.boot`'s loader, not in ``sys.modules`` at all); torch,
    numpy and the other libraries are shared with the notebook.

    Raises:
        GradingError: the private name was taken before the grader made it.
    """
    if _boot and not _loaded:
        _loaded.append(_boot[0].load("helpers.exercises"))
    if not _loaded:
        if _FRESH in sys.modules:
            raise GradingError(f"笔记本里预先放了一个名为 {_FRESH} 的模块，想替换评分用的检查。本题 0 分。")
        folder = ROOT / "helpers"
        spec = importlib.util.spec_from_file_location(
            _FRESH, folder / "__init__.py", submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[_FRESH] = package
        spec.loader.exec_module(package)
        _loaded.append(importlib.import_module(f"{_FRESH}.exercises"))
    return _loaded[0]


def fresh_references() -> dict[str, Callable[..., Any]]:
    """``grader/references.py`` executed afresh (not registered in ``sys.modules``)."""
    path = Path(__file__).resolve().parent / "references.py"
    namespace: dict[str, Any] = {"__name__": "_ch9_grading_references", "__file__": str(path)}
    if _boot:  # read by the hidden test's reader, run on its checked builtins
        source, namespace["__builtins__"] = _boot[0].read(str(path)), _boot[0].builtins
    else:
        source = path.read_text(encoding="utf-8")
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102
    return namespace["REFERENCES"]


def _ours(obj: Any) -> bool:
    """True for a module of helpers.exercises or grader, or anything defined in one."""
    if isinstance(obj, types.ModuleType):
        name = _BOOTED.sub("", obj.__name__)
        return name.startswith(("helpers.exercises", "grader", f"{_FRESH}.exercises", "_ch9_grading"))
    code = getattr(obj, "__code__", None)
    where = place(code.co_filename) if isinstance(code, types.CodeType) else None
    return where is not None and where.startswith(("grader/", "helpers/exercises/"))


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def borrowed(fn: Any, _seen: set[int] | None = None) -> str | None:
    """Why ``fn`` is plainly not the student's own work, or None (a first, friendlier look).

    Follows ``partial``, bound methods, ``__wrapped__`` and callable objects; for a
    Python function it looks at the global names its code uses, its closure and
    its default arguments. What runs is checked later, whatever this finds.
    """
    seen = _seen if _seen is not None else set()
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if _ours(fn):
        return f"它就是评分程序或检查里的 {getattr(fn, '__qualname__', fn)!s}（参考答案）"
    inner = [getattr(fn, a) for a in ("func", "__func__", "__wrapped__") if hasattr(fn, a)]
    if isinstance(fn, __import__("functools").partial):
        inner += [*fn.args, *fn.keywords.values()]
    elif callable(fn) and not isinstance(fn, (types.FunctionType, types.MethodType, type)):
        inner.append(type(fn).__call__)  # an object with __call__
    for obj in inner:
        if callable(obj) and (why := borrowed(obj, seen)):
            return why
    if not isinstance(fn, types.FunctionType):
        return None
    names = set().union(*(c.co_names for c in _code_objects(fn.__code__)))
    if names & _FRAME_NAMES:
        return f"它读取调用者的栈帧（{', '.join(sorted(names & _FRAME_NAMES))}），那里存着评分程序的变量"
    for name in sorted(names):
        if _ours(fn.__globals__.get(name)):
            return f"它通过全局名 {name} 调用了评分程序或检查"
    captured = [c.cell_contents for c in (fn.__closure__ or ()) if c.cell_contents is not c]
    captured += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    for obj in captured:
        if _ours(obj):
            return "它把参考答案存在闭包或默认参数里"
        if isinstance(obj, types.FunctionType) and (why := borrowed(obj, seen)):
            return why
    return None


def _plain(value: Any) -> bool:
    """True for numbers, strings, None, exact tensors/arrays and lists/tuples of them."""
    kind = type(value)
    if kind in (list, tuple):
        return all(_plain(v) for v in value)
    if kind is torch.Tensor:  # no attributes of its own (``t.detach = ...`` would answer the comparison)
        return not vars(value)
    if kind in (np.ndarray, int, float, bool, str, type(None)):
        return True
    try:  # numpy's own scalar types only: a subclass (even one that claims module numpy) is not
        return isinstance(value, np.generic) and np.dtype(kind).type is kind
    except TypeError:
        return False


def grade(check: str, name: str, namespace: Mapping[str, Any], seed: int | None = None) -> None:
    """The hidden test of one exercise: pass silently (full points) or raise GradingError.

    Args:
        check: the check's path inside ``helpers.exercises``, e.g. ``"cam.check_contrast_gradient"``.
        name: the name of the student's function in the notebook.
        namespace: the notebook's globals (``globals()``).
        seed: the inputs' seed; None draws a new one (a failure prints it, to replay).

    Raises:
        GradingError: the function is missing, not the student's own, or wrong on
            the new inputs; the message says which, in Chinese.
    """
    sys.settrace(None)
    sys.setprofile(None)
    if name not in namespace:
        raise GradingError(f"没有找到函数 {name}：答案单元格是不是被删掉或改了名字？本题 0 分。")
    fn = namespace[name]
    if not callable(fn):
        raise GradingError(f"{name} 不是函数（它是 {type(fn).__name__}）。本题 0 分。")
    if why := borrowed(fn):
        raise GradingError(f"{name} 不是你自己写的：{why}。本题 0 分。")
    for found, what in ((tampered(), "笔记本用自己的代码替换了库函数"),
                        (foreign_threads(), "笔记本自己启动的线程还在运行")):
        if found:
            raise GradingError(f"{name} 不能评分：{what}（{', '.join(found[:5])}）。本题 0 分。")
    ex = fresh_exercises().EXERCISES[check]
    reference = fresh_references()[check]
    rules = forbidden(check)
    seed = secrets.randbits(63) if seed is None else int(seed)
    reasons: list[str] = []

    def answer(*args: Any) -> Any:
        value, hits = watched_call(fn, args, rules)
        if KEEP_ALIVE:
            KEEP.append((args, value))
        if hits:
            reasons.extend(hits)
            raise RuntimeError("调用了不允许的函数：" + "；".join(dict.fromkeys(hits)))
        if isinstance(value, BaseException):
            raise value
        if not _plain(value):
            raise TypeError(f"返回值的类型 {type(value).__name__} 不是普通的数、字符串、列表、数组或张量")
        return value

    def trials():
        for args in ex.draw(seed):
            pristine = copy.deepcopy(args)  # the student gets another copy
            yield args, lambda got, a=pristine: _verdict(ex, reference, a, got)

    printed = io.StringIO()
    drawn = trials()
    try:
        with contextlib.redirect_stdout(printed):
            ok = ex_judge(ex, answer if ex.wrap is None else ex.wrap(answer), drawn, seed)
    finally:
        drawn.close()  # judge stops at the first wrong trial: no suspended generator is left behind
    if reasons:
        raise GradingError(f"{name} 不是你自己写的：运行时调用了 {'、'.join(dict.fromkeys(reasons))}"
                           "（参考答案、检查或库里做同一计算的函数，或评分时不允许的操作）。本题 0 分。")
    if found := tampered():
        raise GradingError(f"{name} 在运行时替换了库函数（{', '.join(found[:5])}）。本题 0 分。")
    if ok is not True:
        raise GradingError(f"{name} 在评分用的新随机输入上没有通过：\n{printed.getvalue().strip()}")
    print(f"✓ {name}：评分通过")


def _verdict(ex: Any, reference: Callable[..., Any], args: tuple, got: Any) -> tuple[bool, Any]:
    expected = reference(*args)  # computed only now, after the student's function returned
    return ex.same(got, expected), expected


def ex_judge(ex: Any, student: Callable[..., Any], trials: Any, seed: int) -> bool:
    """The fresh copy's :func:`judge`, with the seed in every ✗ (``grade(..., seed=...)`` replays)."""
    judge = fresh_exercises().core.judge
    return judge(ex.title, student, trials, ex.hint,
                 again=f"\n  随机种子 seed={seed}：老师可用 grader.grade(..., seed={seed}) 重现这组输入。")
