"""The check machinery: public inputs with stored answers; right answers pass, others fail."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch

from helpers import exercises
from helpers.exercises import cam, core, judge, run_check

EX = cam.GRADCAM_WEIGHTS  # alpha_k = the mean gradient of each map


def _right(g):
    return g.mean(dim=(0, 2, 3))


def _stub(g):
    raise NotImplementedError


def test_right_answer_passes(capsys):
    assert run_check(EX, _right)
    assert f"✓ {EX.title}：{EX.trials} 组" in capsys.readouterr().out


def test_stub_none_constant_copy_and_crash_fail(capsys):
    assert not run_check(EX, None)
    assert not run_check(EX, _stub)
    out = capsys.readouterr().out
    assert out.count("○") == 2 and "Traceback" not in out
    assert not run_check(EX, lambda g: torch.zeros(g.shape[1]))
    assert not run_check(EX, lambda g: g)
    assert not run_check(EX, lambda g: 1 / 0)
    out = capsys.readouterr().out
    assert out.count("✗") == 3 and EX.hint in out and "ZeroDivisionError" in out
    assert "应为 Tensor shape=" in out  # only the shape of an expected value is shown


def test_public_inputs_are_the_same_at_every_run_and_new_for_another_seed():
    first = [a[0] for a in EX.draw(EX.public_seed)]
    again = [a[0] for a in EX.draw(EX.public_seed)]
    other = [a[0] for a in EX.draw(EX.public_seed + 1)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, other))


def test_stored_answers_belong_to_the_public_inputs():
    """Written by python -m grader.public; compared with an independent computation here."""
    for args, expected in zip(EX.draw(EX.public_seed), core.public_answers(EX), strict=True):
        torch.testing.assert_close(expected, args[0][0].sum(dim=(1, 2)) / args[0][0, 0].numel())


def test_every_exercise_has_stored_answers_and_nothing_else_is_stored():
    stored = json.loads(core.PUBLIC_CASES.read_text(encoding="utf-8"))
    assert set(stored) == set(exercises.EXERCISES)
    for check, ex in exercises.EXERCISES.items():
        assert len(core.public_answers(ex)) == ex.trials, check


@pytest.mark.parametrize("value", [torch.arange(6.0).view(2, 3), np.eye(2, dtype=np.float32),
                                   [3, 1, 2], "layer4", None, True, 0.25, 7])
def test_encode_decode_round_trip(value):
    back = core.decode(json.loads(json.dumps(core.encode(value))))
    assert type(back) is type(value)
    if isinstance(value, torch.Tensor):
        assert torch.equal(back, value) and back.dtype == value.dtype
    elif isinstance(value, np.ndarray):
        assert np.array_equal(back, value) and back.dtype == value.dtype
    else:
        assert back == value


def test_cycle_takes_each_kind_in_turn_from_zero_each_call():
    make = exercises.cycle(lambda r: ("a",), lambda r: ("b",))
    assert [make(None)[0] for _ in range(5)] == ["a", "b", "a", "b", "a"]
    again = exercises.cycle(lambda r: ("a",), lambda r: ("b",))
    assert again(None) == ("a",)


def test_the_verdict_comes_after_the_students_call():
    order = []

    def student(x):
        order.append("student")
        return x

    def verdict(got):
        order.append("verdict")
        return True, None

    assert judge("t", student, [((1,), verdict), ((2,), verdict)], "h")
    assert order == ["student", "verdict", "student", "verdict"]


def test_student_cannot_corrupt_the_inputs_of_the_next_call(capsys):
    def mutating(g):
        out = _right(g)
        g[:] = 0
        return out

    assert run_check(EX, mutating)  # each call gets its own copy of the inputs


def test_the_student_package_holds_no_reference():
    from grader.leaks import leaks_in_package

    names = [n for m in (exercises, *[getattr(exercises, k) for k in ("layers", "cam", "attention",
                                                                      "trust", "core")])
             for n in vars(m) if n.startswith("ref_")]
    assert names == [] and leaks_in_package() == []


def _mean_inputs(rng):
    return (torch.from_numpy(rng.normal(size=3)),)


def test_self_check_turns_a_documented_def_into_the_exercises_check(monkeypatch):
    """The path comes from the def's module and name, the hint from its Hint section (lines
    joined as Chinese text), the docstring the student sees keeps the task and the Shapes."""
    registered, calls = {}, []
    monkeypatch.setattr(core, "EXERCISES", registered)
    monkeypatch.setattr(core, "run_check", lambda ex, student: calls.append((ex, student)) or "ran")

    @core.self_check("求平均", lambda: _mean_inputs, trials=2)
    def check_mean(student: object) -> bool:
        """练习：求平均值。

        Shapes:
            x: (3,) -> a float.

        Hint:
            用 x.mean()，
            不要用 x.sum()。
        """

    ex = check_mean.exercise
    assert registered == {"test_exercises_core.check_mean": ex}
    assert (ex.title, ex.trials, ex.hint) == ("求平均", 2, "用 x.mean()，不要用 x.sum()。")
    assert check_mean.__name__ == "check_mean"
    assert list(inspect.signature(check_mean).parameters) == ["student"]
    assert inspect.getdoc(check_mean) == "练习：求平均值。\n\nShapes:\n    x: (3,) -> a float."
    assert check_mean(_mean_inputs) == "ran" and calls == [(ex, _mean_inputs)]


def test_self_check_without_a_hint_is_refused(monkeypatch):
    monkeypatch.setattr(core, "EXERCISES", {})
    with pytest.raises(ValueError, match="Hint"):
        @core.self_check("求平均", lambda: _mean_inputs)
        def check_mean(student: object) -> bool:
            """练习：求平均值。

            Shapes:
                x: (3,) -> a float.
            """
