"""The machinery behind every exercise check: fixed public inputs, stored answers, feedback.

This package is what a student's kernel imports, so it holds **no reference
implementation**. Each exercise is described by an :class:`Exercise` (title,
input maker, hint, tolerance); the self-study check draws a few inputs from a
fixed seed (nbgrader's *public tests*) and compares with the answers stored in
``public_cases.json`` (:mod:`.answers`), which ``python -m grader.public`` writes
from the references of the grader-only package ``grader/`` (never shipped to students).
Checks that need no stored answer verify a property instead (the GAP identity
of :func:`helpers.exercises.cam.check_find_cam_layer`). The hidden tests of
``grader`` run the same :class:`Exercise` on fresh random inputs against the
references, through the same :func:`judge`.

A student function that still raises ``NotImplementedError`` (the stub of the
student edition) gets a friendly "not done yet" message instead of a traceback.

Conventions for notebook exercises:
* the solution cell is tagged ``solution`` and holds one function definition
  with a docstring; the student edition keeps the signature and docstring and
  replaces the body with ``raise NotImplementedError``;
* the next cell calls the check, e.g. ``exercises.check_normalize(normalize)``;
* a new exercise gets its ``check_x`` in the module of its notebook, made by
  :func:`self_check` (or an :func:`exercise` and a ``def`` calling :func:`run_check`
  when the check does more), a reference in ``grader/references.py`` and its
  public answers from ``python -m grader.public``.
"""

from __future__ import annotations

import copy
import functools
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .answers import PUBLIC_CASES, decode, encode, public_answers  # noqa: F401 (part of this API)

Inputs = Sequence[Any]
MakeInputs = Callable[[np.random.Generator], Inputs]
Verdict = Callable[[Any], tuple[bool, Any]]  # result -> (right?, the expected value or None)


def cycle(*makers: MakeInputs) -> MakeInputs:
    """``make_inputs`` that takes each kind of input in turn, so every kind is tried.

    The one way for a check to vary its inputs from trial to trial; the count
    starts at 0 for each check run, so one seed always gives the same trials.
    """
    count = [0]

    def make(rng: np.random.Generator) -> Inputs:
        maker = makers[count[0] % len(makers)]
        count[0] += 1
        return maker(rng)

    return make


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


@dataclass(frozen=True)
class Exercise:
    """One autograded exercise: how its inputs are drawn and its results compared.

    Attributes:
        check: the check's path in ``helpers.exercises``, e.g. ``"cam.check_contrast_gradient"``.
        title: the name shown in the feedback.
        inputs: returns a fresh ``make_inputs(rng) -> args`` for each run (it may count trials).
        hint: a Chinese hint shown when an answer is wrong.
        trials: inputs per run.
        compare: ``compare(got, expected) -> bool``; default: allclose / equality.
        wrap: wraps the student's function for extra checks (e.g. no hook left behind).
    """

    check: str
    title: str
    inputs: Callable[[], MakeInputs]
    hint: str
    trials: int = 3
    atol: float = 1e-4
    rtol: float = 1e-4
    compare: Callable[[Any, Any], bool] | None = None
    wrap: Callable[[Callable], Callable] | None = None

    def draw(self, seed: int) -> Iterator[Inputs]:
        """The ``trials`` argument tuples of ``seed``, in order."""
        rng, make = np.random.default_rng(seed), self.inputs()
        for _ in range(self.trials):
            yield make(rng)

    def same(self, got: Any, expected: Any) -> bool:
        """Whether ``got`` is right, ``expected`` being the reference's result."""
        return self.compare(got, expected) if self.compare else _close(got, expected, self.atol, self.rtol)

    @property
    def public_seed(self) -> int:
        """The fixed seed of the public inputs (the same on every machine)."""
        return zlib.crc32(self.check.encode())


EXERCISES: dict[str, Exercise] = {}
"""Every autograded exercise, by its check path (filled when the modules are imported)."""


def exercise(check: str, title: str, inputs: Callable[[], MakeInputs], hint: str,
             **options: Any) -> Exercise:
    """Describe and register one exercise (see :class:`Exercise`)."""
    ex = Exercise(check, title, inputs, hint, **options)
    EXERCISES[check] = ex
    return ex


# ---------------------------------------------------------------- judging ---


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


def judge(title: str, student: Callable[..., Any] | None, trials: Iterable[tuple[Inputs, Verdict]],
          hint: str, again: str = "") -> bool:
    """Call ``student`` on each trial's arguments (a copy) and ask the trial's verdict.

    The verdict is asked *after* the student's call, so no expected value exists
    while the student's code runs. Prints ✓ (with the number of trials), ✗ with
    the hint, or ○ (not done); only shapes of expected values are ever shown.
    """
    if student is None:
        print(f"○ {title}：还没有完成。写好函数后重新运行本单元格。")
        return False
    count = 0
    for count, (args, verdict) in enumerate(trials, 1):
        got = call_student(title, student, *copy.deepcopy(args), hint=hint, again=again)
        if got is FAILED:
            return False
        ok, expected = verdict(got)
        if not ok:
            want = f"，应为 {_describe(expected)}" if hasattr(expected, "shape") else ""
            print(f"✗ {title}：第 {count} 组随机输入结果不对"
                  f"（得到 {_describe(got)}{want}）。\n  提示：{hint}{again}")
            return False
    print(f"✓ {title}：{count} 组随机输入全部正确！")
    return True


def public_trials(ex: Exercise) -> Iterator[tuple[Inputs, Verdict]]:
    """``ex``'s public inputs, each judged against its stored answer."""
    for args, expected in zip(ex.draw(ex.public_seed), public_answers(ex), strict=True):
        yield args, lambda got, e=expected: (ex.same(got, e), e)


def run_check(ex: Exercise, student: Callable[..., Any] | None,
              extra: Iterable[tuple[Inputs, Verdict]] = ()) -> bool:
    """The self-study check: ``student`` on ``ex``'s public inputs (then ``extra`` trials).

    Returns:
        True when every trial is right. The inputs are the same at every run
        (the stored answers belong to them); the graded version draws new ones.
    """
    wrapped = None if student is None or ex.wrap is None else ex.wrap(student)
    return judge(ex.title, wrapped or student, [*public_trials(ex), *extra], ex.hint,
                 again="\n  （公开测试每次用同一组输入；评分时换成新的随机输入。）")


Check = Callable[[Callable[..., Any] | None], bool]
_HINT = re.compile(r"\n[ \t]*Hint:[ \t]*\n")


def self_check(title: str, inputs: Callable[[], MakeInputs], **options: Any
               ) -> Callable[[Callable[..., Any]], Check]:
    """Decorator: the ``def check_x(student)`` below it becomes a new exercise's self-study check.

    The one way to define a plain exercise. The decorated ``def`` is the exercise's
    text, not its code: write only its docstring, the task (in Chinese), a Shapes
    section and, last, a Hint section (shown when an answer is wrong; its lines are
    joined without spaces, as Chinese text). The function's name and module give
    the exercise's path (``check_rollout`` of ``helpers/exercises/attention.py`` is
    ``"attention.check_rollout"``); ``help(check_x)`` and ``check_x?`` show the task
    and the Shapes (no hint), ``check_x??`` the whole ``def``. The check registers
    an :func:`exercise` with ``title``, ``inputs``, the hint and ``options``, keeps it
    as its ``exercise`` attribute, and runs :func:`run_check` on it. A check that
    does more (a trial on the notebook's own model) is an :func:`exercise` and a
    ``def`` that calls :func:`run_check` itself.

    Raises:
        ValueError: the docstring has no Hint section, or an empty one.
    """

    def define(text: Callable[..., Any]) -> Check:
        doc, *rest = _HINT.split(text.__doc__ or "", maxsplit=1)
        hint = "".join(line.strip() for line in "".join(rest).splitlines())
        if not hint:
            raise ValueError(f"{text.__qualname__}: a self-check's docstring ends with a "
                             "'Hint:' section, the hint shown when an answer is wrong")
        path = f"{text.__module__.rpartition('.')[2]}.{text.__name__}"
        ex = exercise(path, title, inputs, hint, **options)

        @functools.wraps(text)
        def check(student: Callable[..., Any] | None) -> bool:
            return run_check(ex, student)

        check.__doc__ = doc.rstrip() + "\n"
        check.exercise = ex  # type: ignore[attr-defined]
        return check

    return define
