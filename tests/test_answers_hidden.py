"""No exercise's answer is shown in a notebook before the exercise (issue #22).

Two ways an answer can leak, both read from the stored teacher notebooks:

* **code**: an autograded exercise's model answer (its solution cell) shares a
  non-trivial expression with a code cell above the exercise, so a student can
  copy it. Expressions are compared as syntax trees with every variable name
  replaced by one placeholder (``u.masked_fill(~mask, ...)`` and
  ``scores.masked_fill(~mask, ...)`` are the same expression); attribute names,
  keywords and constants are kept. A function whose answer is the notebook's
  own listing (the book's code turned into a function) is caught this way;
* **numbers**: a conceptual exercise prints what it measured (``测量结果：...``)
  only after the student's first prediction is recorded; that value (a number
  or a name, not True/False) must not appear in any output above the exercise.
  The autograded exercises' check cells print their function's answer on the
  notebook's own inputs (``most active channels [...]``, ``next-token head per layer: [...]``): those answers
  must not appear above either.

The tests read the notebooks (no kernel), so they are fast; nbval keeps the
stored outputs true.
"""

from __future__ import annotations

import ast
import copy
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import make_assignments  # noqa: E402

NOTEBOOKS = ["09_1_layer_outputs", "09_2_1_cam", "09_2_2_grad_cam", "09_3_attention"]
MIN_NODES = 7  # an expression of fewer nodes (``acts.shape[-3]``, ``int(x.sum())``) is no answer;
#               ``logits[0].topk(2).indices`` (7) is one: the runner-up exercise's key step was shown above it
SHARED_PLUMBING = {  # expressions a model answer may share with the notebook, and why
    "find_cam_layer": {  # finding the classifier's last linear layer is not the exercise's idea
        "[m for m in model.modules() if isinstance(m, nn.Linear)]",  # (the GAP identity over candidates is)
        "[m for m in model.modules() if isinstance(m, nn.Linear)][-1]",
        "acts.mean(dim=(2, 3))"},  # global average pooling itself, which the exercise's statement names
}


class _Anonymize(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="_", ctx=ast.Load()), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation = "_", None
        return node


def _size(node: ast.AST) -> int:
    return sum(1 for n in ast.walk(node) if not isinstance(n, ast.expr_context))


def expressions(source: str, min_nodes: int = MIN_NODES) -> dict[str, str]:
    """``{anonymized dump: source text}`` of every expression of at least ``min_nodes`` nodes."""
    try:
        tree = ast.parse("\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.expr) and not isinstance(node, (ast.Constant, ast.JoinedStr)) \
                and _size(node) >= min_nodes:
            text = ast.unparse(node)
            if "print(" in text or isinstance(node, ast.Lambda):
                continue
            found[ast.dump(_Anonymize().visit(copy.deepcopy(node)))] = text
    return found


def _nb(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)


def _text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell printed or displayed as text."""
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif "data" in o:
            out.append(o.data.get("text/plain", ""))
            out.append(o.data.get("text/html", ""))
    return "".join(out)


def _exercise_start(nb: nbformat.NotebookNode, solution: int) -> int:
    """Index of the markdown cell that states the exercise whose solution cell is ``solution``."""
    for i in range(solution - 1, -1, -1):
        if nb.cells[i].cell_type == "markdown" and re.search(r"^#+ .*练习", nb.cells[i].source, re.M):
            return i
    raise AssertionError(f"no 练习 heading above cell {solution}")


def autograded(stem: str):
    nb = _nb(stem)
    return [(stem, ex) for ex in make_assignments.find_exercises(nb, stem)]


def conceptual(stem: str):
    nb = _nb(stem)
    return [(stem, i) for i in make_assignments.manual_answers(nb)]


AUTOGRADED = [p for s in NOTEBOOKS for p in autograded(s)]
CONCEPTUAL = [p for s in NOTEBOOKS for p in conceptual(s)]


def test_every_notebook_has_exercises_of_both_kinds():
    assert {s for s, _ in AUTOGRADED} == set(NOTEBOOKS)
    assert {s for s, _ in CONCEPTUAL} == set(NOTEBOOKS)


@pytest.mark.parametrize("stem,ex", AUTOGRADED, ids=[f"{s}:{e.name}" for s, e in AUTOGRADED])
def test_model_answer_code_is_not_shown_above(stem, ex):
    nb = _nb(stem)
    answer = expressions(nb.cells[ex.solution].source)
    assert answer, f"{ex.name}: the model answer has no expression to compare"
    start = _exercise_start(nb, ex.solution)
    for i, cell in enumerate(nb.cells[:start]):
        if cell.cell_type == "code":
            shared = {k for k in answer.keys() & expressions(cell.source).keys()
                      if answer[k] not in SHARED_PLUMBING.get(ex.name, set())}
            assert not shared, (f"{stem} {ex.name}: cell {i} above the exercise already shows "
                                f"{[answer[k] for k in shared]}")


def _measured(nb: nbformat.NotebookNode, solution: int) -> list[str]:
    """What the conceptual exercise's check cell printed as ``测量结果：...``."""
    found = []
    for cell in nb.cells[solution + 1:solution + 4]:
        found += re.findall(r"测量结果：(.+)", _text(cell))
    return found


def _pattern(value: str) -> re.Pattern:
    """A printed value as a whole token: 15 does not match 150 or 0.15."""
    return re.compile(r"(?<![\w.])" + re.escape(value) + r"(?![\w]|\.\d)")


@pytest.mark.parametrize("stem,solution", CONCEPTUAL, ids=[f"{s}:cell{i}" for s, i in CONCEPTUAL])
def test_measured_value_is_not_printed_above(stem, solution):
    nb = _nb(stem)
    measured = _measured(nb, solution)
    assert measured, f"{stem}: the conceptual exercise at cell {solution} printed no measurement"
    value = measured[0].strip().strip("'\"")
    if value in ("True", "False"):
        return  # a yes/no answer: its statement is the question itself
    if re.fullmatch(r"-?\d{1,2}", value):
        return  # a one- or two-digit count recurs as an index or a size in any layer table
    above = "".join(_text(c) for c in nb.cells[:_exercise_start(nb, solution)])
    assert not _pattern(value).search(above), \
        f"{stem}: the measurement {value!r} of the exercise at cell {solution} is printed above it"


# The part of an autograded check cell's output that is the function's answer on the notebook's inputs
# (None: nothing printed is the answer, with the reason).
ANSWER_IN_OUTPUT = {
    "first_layer_of_size": None,  # the layer table of 第 4 步 lists every shape: the exercise is the
                                  # function, graded on random shapes, and the table is what a student
                                  # checks its output against
    "count_dead_channels": r"(\d+ of \d+) channels are all zero",
    "top_channels": r"most active channels (\[[\d, ]+\])",
    "channel_iou": r"your IoU (\d\.\d+)",
    "region_drop": r"CAM predicts a drop of (-?\d+\.\d+)",
    "find_cam_layer": None,  # the layer's name is printed throughout: the notebook hooks it
    "contrast_gradient": None,  # a gradient tensor: not printed as text
    "contribution_map": r"off by a median (\d+\.\d+)",  # the classmate's error, measured after
    "masked_softmax": r"would take (\d\.\d+) of its attention",
    "next_token_head": r"next-token head per layer: (\[[\d, ]+\])",
    "rollout": r"rollout \[CLS\] row\s*:.*correlation with the deletion effects (-?\d\.\d+)",
}


@pytest.mark.parametrize("stem,ex", AUTOGRADED, ids=[f"{s}:{e.name}" for s, e in AUTOGRADED])
def test_autograded_answer_is_not_printed_above(stem, ex):
    assert ex.name in ANSWER_IN_OUTPUT, f"say how {ex.name}'s answer shows in its check cell's output"
    if ANSWER_IN_OUTPUT[ex.name] is None:
        return
    nb = _nb(stem)
    printed = _text(nb.cells[ex.check_cell])
    answers = re.findall(ANSWER_IN_OUTPUT[ex.name], printed, re.M)
    assert answers, f"{stem} {ex.name}: the check cell printed no answer ({printed[:200]!r})"
    above = "".join(_text(c) for c in nb.cells[:_exercise_start(nb, ex.solution)])
    for value in answers:
        assert not _pattern(value).search(above), \
            f"{stem} {ex.name}: its answer {value!r} on the notebook's inputs is printed above the exercise"


def test_the_code_comparison_sees_a_renamed_copy():
    answer = expressions("def f(scores, mask):\n    return scores.masked_fill(~mask, float('-inf')).softmax(dim=-1)\n")
    shown = expressions("a = u.masked_fill(~m, float('-inf')).softmax(dim=-1)  # (1, T)\n")
    other = expressions("a = u.masked_fill(~m, 0.0).softmax(dim=-1)\n")
    assert answer.keys() & shown.keys()
    assert "scores.masked_fill(~mask, float('-inf')).softmax(dim=-1)" in answer.values()
    assert not {k for k in answer if "Constant(value='-inf')" in k} & other.keys()


def test_the_code_comparison_sees_the_pieces_of_a_removed_exercise():
    """The runner-up CAM exercise (replaced by region_drop) took its key step from the cell above it."""
    answer = expressions("def second_class_cam(acts, fc_weight, logits):\n"
                         "    second = int(logits[0].topk(2).indices[1])\n"
                         "    return (fc_weight[second][:, None, None] * acts[0]).sum(dim=0)\n")
    shown = expressions("top2 = cat_logits[0].topk(2).indices.tolist()\n")
    assert {answer[k] for k in answer.keys() & shown.keys()} == {"logits[0].topk(2).indices"}


def test_a_printed_value_matches_as_a_whole_token():
    assert _pattern("15").search("a ring of 15 cells")
    assert not _pattern("15").search("150 cells, 0.15 of them, 15.5")
    assert _pattern("0.707").search("share 0.707,")
    assert _pattern("features.0").search("{'features.0': 0.2}")
    assert not _pattern("features.0").search("features.01")
