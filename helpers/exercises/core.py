"""The machinery behind every exercise check: fresh random inputs, a reference, feedback.

A check calls the student's function on inputs drawn afresh each time, compares
with the reference implementation, and prints ✓ or ✗ with a hint in Chinese.
No expected answer is stored: it is computed from the reference each time. A
student function that still raises ``NotImplementedError`` (the stub of the
student edition) gets a friendly "not done yet" message instead of a traceback.

Conventions for notebook exercises:
* the solution cell is tagged ``solution`` and holds one function definition
  with a docstring; the student edition keeps the signature and docstring and
  replaces the body with ``raise NotImplementedError``;
* the next cell calls the check, e.g. ``exercises.check_normalize(normalize)``.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

Inputs = Sequence[Any]


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
        True when every trial matches. Prints ✓, ✗ or ○ with the reason.
    """
    if student is None:
        print(f"○ {title}：还没有完成。写好函数后重新运行本单元格。")
        return False
    rng = np.random.default_rng(secrets.randbits(64))  # fresh inputs every time
    same = compare or (lambda g, e: _close(g, e, atol, rtol))
    for trial in range(trials):
        args = make_inputs(rng)
        expected = reference(*copy.deepcopy(args))
        try:
            got = student(*copy.deepcopy(args))
        except NotImplementedError:
            print(f"○ {title}：还没有完成（函数里还是 NotImplementedError）。写好后重新运行本单元格。")
            return False
        except Exception as err:  # the student's bug, reported, not raised
            print(f"✗ {title}：运行出错 {type(err).__name__}: {err}\n  提示：{hint}")
            return False
        if not same(got, expected):
            # Only shapes are revealed, never the expected value itself.
            want = f"，应为 {_describe(expected)}" if hasattr(expected, "shape") else ""
            print(f"✗ {title}：第 {trial + 1} 组随机输入结果不对"
                  f"（得到 {_describe(got)}{want}）。\n  提示：{hint}")
            return False
    print(f"✓ {title}：{trials} 组随机输入全部正确！")
    return True
