"""helpers.grading, in process: every exercise's teacher answer passes, every gaming attempt fails.

The exercises come from the teacher notebooks (the same discovery as
scripts/make_assignments.py), so new exercises are covered automatically.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from helpers import exercises, grading
import classroom_sim as sub

ITEMS = [item for path in sub.teacher_notebooks() for item in sub.items(path)]
IDS = [f"{i.notebook}:{i.name}" for i in ITEMS]


@pytest.fixture(scope="module")
def setups() -> dict[str, dict]:
    """Each notebook's namespace after its import cell (what a solution cell sees)."""
    spaces = {}
    for item in ITEMS:
        if item.notebook not in spaces:
            ns: dict = {}
            with contextlib.redirect_stdout(io.StringIO()):
                exec(item.setup, ns)  # noqa: S102 (our own notebook's import cell)
            spaces[item.notebook] = ns
    return spaces


def _define(setups: dict, item: sub.Item, source: str) -> dict:
    ns = dict(setups[item.notebook])
    module = getattr(exercises, item.module)
    check = item.check.rpartition(".")[2]
    original = getattr(module, check)
    try:
        exec(source, ns)  # noqa: S102 (a simulated student's cell)
    finally:
        setattr(module, check, original)  # patch_check must not leak into other tests
    return ns


def test_every_exercise_is_found():
    assert {i.notebook for i in ITEMS} >= {"09_1_layer_outputs", "09_2_1_cam", "09_2_2_grad_cam",
                                           "09_3_attention"}
    assert len(ITEMS) >= 12  # autograded: a function checked on fresh inputs
    manual = [i for path in sub.teacher_notebooks()
              for i in sub.make_assignments.manual_answers(sub.nbformat.read(path, 4))]
    assert len(manual) >= 9  # conceptual (predict, then measure; explain): graded by the teacher


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_teacher_answer_earns_the_points(setups, item, capsys):
    grading.grade(item.check, item.name, _define(setups, item, item.solution))
    assert f"✓ {item.name}" in capsys.readouterr().out


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_stub_and_missing_function_earn_nothing(setups, item):
    stub = f"def {item.name}(*args):\n    {sub.STUB}\n"
    with pytest.raises(grading.GradingError, match="没有通过"):
        grading.grade(item.check, item.name, _define(setups, item, stub))
    with pytest.raises(grading.GradingError, match="没有找到函数"):
        grading.grade(item.check, item.name, dict(setups[item.notebook]))


@pytest.mark.parametrize("trick", sub.GAMING, ids=[t.__name__ for t in sub.GAMING])
@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_gaming_earns_nothing(setups, item, trick):
    ns = _define(setups, item, trick(item))
    with pytest.raises(grading.GradingError, match="0 分|没有通过"):
        grading.grade(item.check, item.name, ns)


def test_borrowed_answers_are_named(setups):
    """The reasons a teacher reads, for the three ways of borrowing the reference."""
    item = next(i for i in ITEMS if i.name == "gradcam_map")
    for trick, words in [(sub.alias_reference, "参考答案"), (sub.wrap_reference, "全局名 _answer"),
                         (sub.peek_expected, "栈帧")]:
        with pytest.raises(grading.GradingError, match=words):
            grading.grade(item.check, item.name, _define(setups, item, trick(item)))


def test_a_wrong_answer_reports_the_check_output(setups):
    item = next(i for i in ITEMS if i.name == "gradcam_map")
    wrong = ("def gradcam_map(acts, grads):\n"
             "    return (grads[0].mean(dim=(1, 2))[:, None, None] * acts[0]).sum(dim=0)\n")  # no ReLU
    with pytest.raises(grading.GradingError, match="✗ Grad-CAM 图"):
        grading.grade(item.check, item.name, _define(setups, item, wrong))
