"""Conceptual-exercise checks: not-done stubs, first predictions recorded, explanations left to the teacher."""

from __future__ import annotations

import json

import pytest

from helpers.exercises import concepts


@pytest.fixture(autouse=True)
def record(tmp_path, monkeypatch):
    """Each test records first answers in its own file, starting from an empty memory."""
    path = tmp_path / "predictions.json"
    monkeypatch.setenv(concepts.RECORD_ENV, str(path))
    concepts.forget()
    yield path
    concepts.forget()


def _stub():
    raise NotImplementedError("练习：请在这里写出你的代码")


def test_stub_is_reported_as_not_done(capsys, record):
    assert concepts.check_prediction("p", _stub, measured=49) is False
    assert concepts.check_explanation("e", _stub) is False
    out = capsys.readouterr().out
    assert out.count("○") == 2 and "✓" not in out and "✗" not in out
    assert not record.exists()  # nothing answered, nothing recorded


def test_prediction_is_compared_with_the_measurement(capsys):
    h, w = 7, 7  # the measured ratio W/alpha on a 7x7 map is h*w, computed here by hand
    assert concepts.check_prediction("a", lambda: 49, measured=float(h * w)) is True
    assert concepts.check_prediction("b", lambda: 50.0, measured=float(h * w), tol=0.01) is False
    assert concepts.check_prediction("c", lambda: True, measured=True) is True
    assert concepts.check_prediction("d", lambda: False, measured=True) is False
    assert concepts.check_prediction("e", lambda: 1, measured=True) is False  # 1 is not a yes/no
    assert concepts.check_prediction("f", lambda: True, measured=1.0) is False  # nor a number
    assert concepts.check_prediction("g", lambda: "bn2", measured="bn2") is True


def test_the_measurement_is_printed_only_after_the_answer_is_recorded(capsys, record):
    assert concepts.check_prediction("ratio", lambda: 50.0, measured=49.0, tol=0.01) is False
    out = capsys.readouterr().out
    assert out.index("50.0") < out.index("49.0")  # the answer is on record before the measurement shows
    assert json.loads(record.read_text(encoding="utf-8")) == {"ratio": 50.0}


def test_the_first_answer_stays_recorded_after_a_resubmission(capsys, record):
    assert concepts.check_prediction("ratio", lambda: 50.0, measured=49.0, tol=0.01) is False
    capsys.readouterr()
    # the student saw 49.0 and resubmits it: the notebook may go on, the record does not change
    assert concepts.check_prediction("ratio", lambda: 49.0, measured=49.0, tol=0.01) is True
    out = capsys.readouterr().out
    assert "50.0" in out and "✓" not in out and "○" in out
    assert json.loads(record.read_text(encoding="utf-8")) == {"ratio": 50.0}
    # a restarted kernel (empty memory) still finds the first answer in the file
    concepts._recorded.clear()
    concepts.check_prediction("ratio", lambda: 49.0, measured=49.0, tol=0.01)
    assert "50.0" in capsys.readouterr().out


def test_a_right_first_answer_prints_the_same_on_every_run(capsys):
    outs = []
    for _ in range(2):  # nbval re-runs a notebook: the output must not change
        assert concepts.check_prediction("same", lambda: False, measured=False) is True
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and "✓" in outs[0]


def test_returning_a_function_is_rejected(capsys, record):
    assert concepts.check_prediction("p", lambda: _stub, measured=3) is False
    assert not record.exists()  # a function is no answer, nothing is recorded
    with pytest.raises(TypeError, match="measured"):
        concepts.check_prediction("p", lambda: 3, measured=lambda: 3)


def test_explanation_gets_only_a_length_and_a_number_hint(capsys):
    cites = "钩子存的是张量本身；残差相加和原地 ReLU 改写了同一块内存，所以最小值从 −11.780 变成了 0。"
    vague = "钩子存的是张量本身；残差相加和原地 ReLU 改写了同一块内存，所以存下的图和 layer 的输出一样。"
    assert concepts.check_explanation("e", lambda: cites) is True
    assert "老师" in capsys.readouterr().out  # graded by the teacher, not here
    assert concepts.check_explanation("e", lambda: vague.replace("layer", "最后一层")) is False
    assert "数字" in capsys.readouterr().out
    assert concepts.check_explanation("e", lambda: "补零 边 9-4") is False  # keywords alone no longer pass
    assert concepts.check_explanation("e", lambda: 42) is False
    assert concepts.check_explanation("e", lambda: vague.replace("layer", "最后一层"), cite_number=False) is True


def test_the_answer_is_on_file_at_the_moment_the_measurement_is_printed(monkeypatch, record):
    """Not only printed first: the record is written before the measured value reaches the screen."""
    import io
    import sys

    seen = []

    class Screen(io.StringIO):
        def write(self, text: str) -> int:
            if "49.0" in text:  # the measurement
                seen.append(json.loads(record.read_text(encoding="utf-8")) if record.exists() else None)
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Screen())
    concepts.check_prediction("ratio", lambda: 50.0, measured=49.0, tol=0.01)
    assert seen and seen[0] == {"ratio": 50.0}
