"""The check machinery: passes right answers, rejects stubs, constants and copies."""

from __future__ import annotations

import functools
import re
import types

import numpy as np
import pytest

from helpers import exercises
from helpers.exercises import run_check


def _ref(a):
    return (a - a.min()) / (a.max() - a.min())


def _inputs(rng):
    return (rng.normal(size=(4, 5)),)


def _stub(a):
    raise NotImplementedError


def test_right_answer_passes(capsys):
    assert run_check("norm", lambda a: (a - a.min()) / np.ptp(a), _ref, _inputs, "hint")
    assert "✓" in capsys.readouterr().out


def test_stub_none_constant_copy_and_crash_fail(capsys):
    assert not run_check("norm", None, _ref, _inputs, "hint")
    assert not run_check("norm", _stub, _ref, _inputs, "hint")
    out = capsys.readouterr().out
    assert out.count("○") == 2 and "Traceback" not in out
    assert not run_check("norm", lambda a: np.zeros_like(a), _ref, _inputs, "用最小值和最大值")
    assert not run_check("norm", lambda a: a, _ref, _inputs, "hint")
    assert not run_check("norm", lambda a: 1 / 0, _ref, _inputs, "hint")
    out = capsys.readouterr().out
    assert out.count("✗") == 3 and "用最小值和最大值" in out and "ZeroDivisionError" in out


def _right(a):
    return (a - a.min()) / np.ptp(a)


def test_inputs_are_fresh_each_call():
    seen = []
    assert run_check("x", lambda a: seen.append(a.copy()) or _right(a), _ref, _inputs, "h", trials=1)
    assert run_check("x", lambda a: seen.append(a.copy()) or _right(a), _ref, _inputs, "h", trials=1)
    assert not np.allclose(seen[0], seen[1])


def test_a_failure_prints_its_seed_and_replay_draws_the_same_inputs(capsys):
    seen = []

    def wrong(a):
        seen.append(a.copy())
        return a

    assert not run_check("x", wrong, _ref, _inputs, "h")
    seed = int(re.search(r"seed=(\d+)", capsys.readouterr().out).group(1))
    with exercises.replay(seed):
        assert not run_check("x", wrong, _ref, _inputs, "h")
    assert np.array_equal(seen[0], seen[1])
    assert f"seed={seed}" in capsys.readouterr().out
    assert np.array_equal(_inputs(np.random.default_rng(seed))[0], seen[0])  # the seed is numpy's


def test_cycle_takes_each_kind_in_turn_from_zero_each_call():
    make = exercises.cycle(lambda r: ("a",), lambda r: ("b",))
    assert [make(None)[0] for _ in range(5)] == ["a", "b", "a", "b", "a"]
    again = exercises.cycle(lambda r: ("a",), lambda r: ("b",))
    assert again(None) == ("a",)


def _twin():  # a function that only shares the reference's code object
    return types.FunctionType(_ref.__code__, {"np": np})


@pytest.mark.parametrize("answer", [
    _ref,  # the reference itself
    _twin(),  # the same code object under another function
    functools.partial(_ref),
    lambda a: _ref(a),  # a wrapper that calls it by name
    lambda a, f=_ref: f(a),  # held in a default
    (lambda f: lambda a: f(a))(_ref),  # held in a closure
    lambda a: 0.5 * _ref(a * 1) + 0.5 * _ref(a),  # calls it inside an expression
])
def test_the_reference_itself_is_rejected(answer, capsys):
    assert not run_check("norm", answer, _ref, _inputs, "hint")
    out = capsys.readouterr().out
    assert "✗" in out and "参考答案本身" in out


def test_the_same_formula_written_by_the_student_passes():
    def norm(a):  # the same computation as _ref, the student's own function
        return (a - a.min()) / (a.max() - a.min())

    assert run_check("norm", norm, _ref, _inputs, "hint")


def test_real_references_reject_themselves(capsys):
    from helpers.exercises import attention, cam, layers

    assert not cam.check_cam_from_weights(cam.ref_cam_from_weights)
    assert not cam.check_layer_gradient(cam.ref_layer_gradient)  # through the hook-checking wrapper
    assert not layers.check_top_channels(lambda acts, k: layers._top_channels(acts, k))
    assert not attention.check_masked_softmax(attention.ref_masked_softmax)
    assert capsys.readouterr().out.count("参考答案本身") == 4


def test_student_cannot_corrupt_reference_inputs():
    def mutating(a):
        a[:] = 0
        return _ref(a)

    assert not run_check("x", mutating, _ref, _inputs, "h")
