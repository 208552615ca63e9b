"""Conceptual-exercise checks: not-done stubs, predictions against measurements, key points."""

from __future__ import annotations

import pytest

from helpers.exercises import concepts


def _stub():
    raise NotImplementedError("练习：请在这里写出你的代码")


def test_stub_is_reported_as_not_done(capsys):
    assert concepts.check_prediction("p", _stub, measured=49) is False
    assert concepts.check_explanation("e", _stub, {"a": ("x",)}) is False
    out = capsys.readouterr().out
    assert out.count("○") == 2 and "✓" not in out and "✗" not in out


def test_prediction_is_compared_with_the_measurement(capsys):
    h, w = 7, 7  # the measured ratio W/alpha on a 7x7 map is h*w, computed here by hand
    assert concepts.check_prediction("p", lambda: 49, measured=float(h * w)) is True
    assert concepts.check_prediction("p", lambda: 50.0, measured=float(h * w), tol=0.01) is False
    assert concepts.check_prediction("p", lambda: True, measured=True) is True
    assert concepts.check_prediction("p", lambda: False, measured=True) is False
    assert concepts.check_prediction("p", lambda: 1, measured=True) is False  # 1 is not a yes/no
    assert concepts.check_prediction("p", lambda: True, measured=1.0) is False  # nor a number
    out = capsys.readouterr().out
    assert "50.0" in out and "49.0" in out  # the wrong answer is shown next to the measurement


def test_returning_a_function_is_rejected(capsys):
    assert concepts.check_prediction("p", lambda: _stub, measured=3) is False
    with pytest.raises(TypeError, match="measured"):
        concepts.check_prediction("p", lambda: 3, measured=lambda: 3)


def test_explanation_names_the_missing_point(capsys):
    points = {"残差相加": ("残差", "residual"), "原地": ("原地", "in-place", "inplace")}
    good = "钩子存的是张量本身，后面的残差相加和原地 ReLU 改写了同一块内存。"
    assert concepts.check_explanation("e", lambda: good, points) is True
    assert concepts.check_explanation("e", lambda: "钩子存的是张量本身，后来它被 ReLU 改了。", points) is False
    assert "残差相加" in capsys.readouterr().out
    assert concepts.check_explanation("e", lambda: "残差 inplace", points) is False  # too short
    assert concepts.check_explanation("e", lambda: 42, points) is False
    with pytest.raises(ValueError):
        concepts.check_explanation("e", lambda: good, {})
