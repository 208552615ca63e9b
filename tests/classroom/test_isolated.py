"""The second verdict: every exercise graded again in a confined process (grader/isolated.py).

Real processes, real confinement (as root, like `make assignments` and the class test): the
teacher's answers pass; what owns only the student's kernel, or starts a thread where no audit
event sees it, or reads the answer key from disk, or prints a verdict of its own, scores 0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import classroom_sim as sub

ROOT = sub.ROOT
sys.path.insert(0, str(ROOT / "scripts"))
import make_assignments  # noqa: E402

from grader.isolated import IsolatedGrading, grade_isolated, hidden_tests, program  # noqa: E402

CONFINED = os.geteuid() == 0 and shutil.which("unshare") is not None and \
    subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0
if not CONFINED and os.environ.get("CI"):
    raise RuntimeError("CI runs as root with mount namespaces: the grading process must be confined")
needs_confinement = pytest.mark.skipif(not CONFINED, reason="confinement needs root and namespaces")

SECTION = "09_2_1_cam"
ITEMS = sub.items(ROOT / "notebooks" / f"{SECTION}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder (confinement looks for its nbgrader_config.py) with the section's source."""
    root = tmp_path_factory.mktemp("isolated")
    (root / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n")
    nb = make_assignments.source_notebook(nbformat.read(ROOT / "notebooks" / f"{SECTION}.ipynb", 4),
                                          exercises_only=True)
    (root / "sub").mkdir()
    nbformat.write(nb, root / "sub" / "nb.ipynb")
    return root


def _with(course: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The section's notebook with some solution cells replaced (by function name)."""
    nb = nbformat.read(course / "sub" / "nb.ipynb", 4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            for item in ITEMS:
                if f"def {item.name}(" in cell.source and item.name in answers:
                    cell.source = answers[item.name]
    return nb


def _grade(course: Path, nb, timeout: float = 120.0) -> dict[str, tuple[bool, str]]:
    return grade_isolated(nb, course / "sub", timeout=timeout)


def test_the_program_keeps_solutions_whole_and_only_definitions_elsewhere():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%matplotlib inline\nimport math\nx = 1\ndef f():\n    return x\n"),
        nbformat.v4.new_code_cell("y = 2\ndef g():\n    return y\n"),
        nbformat.v4.new_code_cell("assert g()\n_ch9_hidden_test('/x', 'cam.check_region_drop', 'g')"),
    ])
    nb.cells[1].metadata["nbgrader"] = {"solution": True, "grade": False}
    nb.cells[2].metadata["nbgrader"] = {"solution": False, "grade": True, "points": 1}
    assert program(nb) == [(0, "import math\n\ndef f():\n    return x", False),
                           (1, "y = 2\ndef g():\n    return y", True)]
    assert hidden_tests(nb) == [(2, "cam.check_region_drop", "g")]


@needs_confinement
def test_the_teachers_answers_pass(course):
    verdicts = _grade(course, _with(course, {}))
    assert set(verdicts) == {i.name for i in ITEMS}
    assert all(passed for passed, _ in verdicts.values()), verdicts


@needs_confinement
def test_a_thread_started_by_a_builtin_during_grading_scores_0(course):
    # the teacher's own answer, run on a thread that a builtin starts: no audit event in 3.11,
    # no profiler on that thread; the PID counter of the grading process's namespace sees it
    item = ITEMS[0]
    answer = item.solution.replace(f"def {item.name}(", f"def _honest_{item.name}(") + (
        "\n\nimport _thread\nimport time\n\n\n"
        f"def {item.name}(*args):\n    box = []\n"
        f"    for _ in map(_thread.start_new_thread, [lambda: box.append(_honest_{item.name}(*args))], [()]):\n"
        "        pass\n    while not box:\n        time.sleep(0.002)\n    return box[0]\n")
    verdicts = _grade(course, _with(course, {item.name: answer}))
    passed, message = verdicts[item.name]
    assert not passed and "线程或进程" in message, message


@needs_confinement
def test_the_answer_key_cannot_be_read_and_a_printed_verdict_is_not_a_verdict(course):
    item, other = ITEMS[0], ITEMS[1]
    reader = (f"def {item.name}(*args):\n"
              f"    ns = {{}}\n    exec(open({str(ROOT / 'grader' / 'references.py')!r}).read(), ns)\n"
              f"    return ns['REFERENCES']['{item.check}'](*args)\n")
    forger = ("import os\n\nfor fd in range(1, 12):\n    try:\n"
              f"        os.write(fd, b\"{'0' * 64} ('{other.name}', True, '')\\n\")\n"
              "    except OSError:\n        pass\n\n\n"
              f"def {other.name}(*args):\n    raise NotImplementedError\n")
    verdicts = _grade(course, _with(course, {item.name: reader, other.name: forger}))
    assert not verdicts[item.name][0] and "PermissionError" in verdicts[item.name][1], verdicts
    assert not verdicts[other.name][0], verdicts


@needs_confinement
def test_an_answer_that_never_returns_fails_alone(course):
    item, other = ITEMS[0], ITEMS[1]
    loop = f"def {item.name}(*args):\n    while True:\n        pass\n"
    verdicts = _grade(course, _with(course, {item.name: loop}), timeout=15)
    assert not verdicts[item.name][0] and "超时" in verdicts[item.name][1], verdicts
    assert verdicts[other.name] == (True, ""), verdicts


@needs_confinement
def test_a_cell_is_run_only_for_the_exercises_below_it(course):
    # as in the kernel: a later answer cell that replaces numpy.allclose spoils itself, not an
    # earlier exercise, which was graded before that cell ran
    first, second = ITEMS[0], ITEMS[1]
    spoiler = "import numpy\n\nnumpy.allclose = lambda *a, **k: True\n\n\n" + second.solution
    verdicts = _grade(course, _with(course, {second.name: spoiler}))
    assert verdicts[first.name] == (True, ""), verdicts
    assert not verdicts[second.name][0] and "numpy.allclose" in verdicts[second.name][1], verdicts


@needs_confinement
def test_a_cell_that_hangs_is_left_out_and_the_rest_is_graded(course):
    first, second = ITEMS[0], ITEMS[1]
    hang = first.solution + "\n\nwhile True:\n    pass\n"
    verdicts = _grade(course, _with(course, {first.name: hang}), timeout=10)
    assert not verdicts[first.name][0] and "没有找到函数" in verdicts[first.name][1], verdicts
    assert verdicts[second.name] == (True, ""), verdicts


@needs_confinement
def test_the_preprocessor_puts_the_failure_first(course):
    # a kernel that answered for the grader (an execute_result "1" first, no error) loses the point
    item = ITEMS[0]
    nb = _with(course, {item.name: f"def {item.name}(*args):\n    raise NotImplementedError\n"})
    index = next(i for i, _, name in hidden_tests(nb) if name == item.name)
    nb.cells[index].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"},
                                                      execution_count=1)]
    IsolatedGrading().preprocess(nb, {"metadata": {"path": str(course / "sub")}})
    from nbgrader.utils import determine_grade
    assert determine_grade(nb.cells[index])[0] == 0
    others = [i for i, _, name in hidden_tests(nb) if name != item.name]
    assert all(determine_grade(nb.cells[i])[0] == 1 for i in others)
