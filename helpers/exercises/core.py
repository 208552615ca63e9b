"""The machinery behind every exercise check: fresh random inputs, a reference, feedback.

A check calls the student's function on inputs drawn afresh each time, compares
with the reference implementation, and prints ✓ or ✗ with a hint in Chinese.
No expected answer is stored: it is computed from the reference each time. A
student function that still raises ``NotImplementedError`` (the stub of the
student edition) gets a friendly "not done yet" message instead of a traceback.

Every ✗ prints the random seed of its inputs; ``with exercises.replay(seed):``
around the same check call draws exactly those inputs again. An answer that
*is* the reference (the same function object, a copy of its code, or a thin
wrapper that calls it) is rejected: it would pass without any work.

Conventions for notebook exercises:
* the solution cell is tagged ``solution`` and holds one function definition
  with a docstring; the student edition keeps the signature and docstring and
  replaces the body with ``raise NotImplementedError``;
* the next cell calls the check, e.g. ``exercises.check_normalize(normalize)``.
"""

from __future__ import annotations

import copy
import secrets
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

Inputs = Sequence[Any]
MakeInputs = Callable[[np.random.Generator], Inputs]
SEED_BITS = 63  # a seed that prints as a plain positive integer

_replay_seed: list[int] = []  # set by replay(): the seed the next checks use


@contextmanager
def replay(seed: int) -> Iterator[None]:
    """Run the checks inside with the inputs of ``seed`` (the seed a ✗ printed).

    Example::

        with exercises.replay(1234567):
            exercises.cam.check_cam_from_weights(cam_from_weights)
    """
    _replay_seed.append(int(seed))
    try:
        yield
    finally:
        _replay_seed.pop()


def cycle(*makers: MakeInputs) -> MakeInputs:
    """``make_inputs`` that takes each kind of input in turn, so every kind is tried.

    The one way for a check to vary its inputs from trial to trial; the count
    starts at 0 for each check call, so a replayed seed gives the same trials.
    """
    count = [0]

    def make(rng: np.random.Generator) -> Inputs:
        maker = makers[count[0] % len(makers)]
        count[0] += 1
        return maker(rng)

    return make


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def is_reference(student: Callable[..., Any], reference: Callable[..., Any]) -> bool:
    """Whether ``student`` is the reference itself, shares its code object, or wraps it.

    An answer that merely computes the same way is not rejected (the same
    one-line formula is a right answer).

    A wrapper is recognized when it holds the reference (closure, default,
    ``functools.partial``) or names it (``exercises.cam.ref_cam(...)``).
    """
    if student is reference or getattr(student, "func", None) is reference:
        return True
    code, ref_code = getattr(student, "__code__", None), getattr(reference, "__code__", None)
    if code is None or ref_code is None:
        return False
    if code is ref_code:  # e.g. types.FunctionType(reference.__code__, {})
        return True
    held = [c.cell_contents for c in (student.__closure__ or ()) if c.cell_contents is not None]
    held += list(student.__defaults__ or ()) + list((student.__kwdefaults__ or {}).values())
    if any(h is reference for h in held):
        return True
    return any(reference.__name__ in c.co_names for c in _code_objects(code))


def _close(got: Any, expected: Any, atol: float, rtol: float) -> bool:
    if isinstance(expected, (torch.Tensor, np.ndarray)) or isinstance(got, (torch.Tensor, np.ndarray)):
        g = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
        e = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
        if g.shape != e.shape:
            return False
        return bool(np.allclose(g.astype(np.float64), e.astype(np.float64), atol=atol, rtol=rtol))
    if isinstance(expected, float):
        return isinstance(got, (int, float, np.floating, np.integer)) and abs(got - expected) <= atol + rtol * abs(expected)
    return got == expected


def _describe(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__} shape={tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


FAILED = object()
"""What :func:`call_student` returns when the function is not done yet or raised."""


def call_student(title: str, student: Callable[..., Any], *args: Any, hint: str = "",
                 again: str = "") -> Any:
    """Call the student's function once; print ○ (not done) or ✗ (an error) and return FAILED.

    The student's bug is reported, never raised, so a check cell always finishes.
    """
    try:
        return student(*args)
    except NotImplementedError:
        print(f"○ {title}：还没有完成（函数里还是 NotImplementedError）。写好后重新运行本单元格。")
    except Exception as err:  # the student's bug, reported, not raised
        tip = f"\n  提示：{hint}{again}" if hint or again else ""
        print(f"✗ {title}：运行出错 {type(err).__name__}: {err}{tip}")
    return FAILED


def run_check(
    title: str,
    student: Callable[..., Any] | None,
    reference: Callable[..., Any],
    make_inputs: Callable[[np.random.Generator], Inputs],
    hint: str,
    trials: int = 3,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    compare: Callable[[Any, Any], bool] | None = None,
) -> bool:
    """Check ``student`` against ``reference`` on ``trials`` fresh random inputs.

    Args:
        title: the exercise's name, shown in the feedback.
        student: the student's function (``None`` or a stub counts as not done).
        reference: the correct implementation.
        make_inputs: draws one tuple of arguments from a generator.
        hint: a Chinese hint shown when an answer is wrong.
        compare: ``compare(got, expected) -> bool``; default: allclose / equality.

    Returns:
        True when every trial matches. Prints ✓, ✗ or ○ with the reason; a ✗
        also prints the seed to pass to :func:`replay`.
    """
    if student is None:
        print(f"○ {title}：还没有完成。写好函数后重新运行本单元格。")
        return False
    if is_reference(student, reference):
        print(f"✗ {title}：提交的函数就是参考答案本身（或只是调用了它），这样的检查没有意义。"
              "请自己写出计算过程。")
        return False
    seed = _replay_seed[-1] if _replay_seed else secrets.randbits(SEED_BITS)  # fresh inputs
    rng = np.random.default_rng(seed)
    same = compare or (lambda g, e: _close(g, e, atol, rtol))
    again = f"\n  随机种子 seed={seed}：用 `with exercises.replay({seed}):` 包住同一个检查即可重现这组输入。"
    for trial in range(trials):
        args = make_inputs(rng)
        expected = reference(*copy.deepcopy(args))
        got = call_student(title, student, *copy.deepcopy(args), hint=hint, again=again)
        if got is FAILED:
            return False
        if not same(got, expected):
            # Only shapes are revealed, never the expected value itself.
            want = f"，应为 {_describe(expected)}" if hasattr(expected, "shape") else ""
            print(f"✗ {title}：第 {trial + 1} 组随机输入结果不对"
                  f"（得到 {_describe(got)}{want}）。\n  提示：{hint}{again}")
            return False
    print(f"✓ {title}：{trials} 组随机输入全部正确！")
    return True
