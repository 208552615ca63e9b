"""The check machinery: passes right answers, rejects stubs, constants and copies."""

from __future__ import annotations

import numpy as np

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


def test_inputs_are_fresh_each_call():
    seen = []
    run_check("x", lambda a: seen.append(a.copy()) or _ref(a), _ref, _inputs, "h", trials=1)
    run_check("x", lambda a: seen.append(a.copy()) or _ref(a), _ref, _inputs, "h", trials=1)
    assert not np.allclose(seen[0], seen[1])


def test_student_cannot_corrupt_reference_inputs():
    def mutating(a):
        a[:] = 0
        return _ref(a)

    assert not run_check("x", mutating, _ref, _inputs, "h")
