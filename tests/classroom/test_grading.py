"""grader.grade, in process: honest answers pass, every gaming kind fails, with its reason.

The exercises come from the teacher notebooks (the same discovery as
scripts/make_assignments.py), so new exercises are covered automatically. A
simulated cell is compiled under an IPython cell's file name, as a notebook's is.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import io
import re
import sys
import threading
import types

import pytest

import classroom_sim as sub
import grader
import make_assignments  # (on the path through classroom_sim)
from grader import references
from helpers import exercises

ITEMS = [item for path in sub.teacher_notebooks() for item in sub.items(path)]
IDS = [f"{i.notebook}:{i.name}" for i in ITEMS]
CELL = "<ipython-input-1-simulated>"


@pytest.fixture(scope="module")
def setups() -> dict[str, dict]:
    """Each notebook's namespace after its import cell (what a solution cell sees)."""
    spaces = {}
    for item in ITEMS:
        if item.notebook not in spaces:
            ns: dict = {}
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(item.setup, CELL, "exec"), ns)  # noqa: S102 (our notebook's import cell)
            spaces[item.notebook] = ns
    return spaces


@contextlib.contextmanager
def defined(setups: dict, item: sub.Item, source: str):
    """The namespace after a simulated solution cell; undoes what the cell changed outside it."""
    import builtins
    import sys

    import numpy
    import torch

    ns = dict(setups[item.notebook])
    before = set(threading.enumerate())
    module = getattr(exercises, item.module)
    check = item.check.rpartition(".")[2]
    saved = [(module, check, getattr(module, check)), (numpy, "allclose", numpy.allclose),
             (torch, "allclose", torch.allclose), (grader, "grade", grader.grade),
             (grader.grading, "grade", grader.grading.grade),
             (builtins, "__import__", builtins.__import__)]
    modules = {name: sys.modules[name] for name in ("grader", "grader.grading")}
    try:
        exec(compile(source, CELL, "exec"), ns)  # noqa: S102 (a simulated student's cell)
        yield ns
    finally:
        # patch_check, patch_library, replace_grader and hook_import must not leak
        for owner, name, value in saved:
            setattr(owner, name, value)
        sys.modules.update(modules)
        if "_jobs" in ns:  # thread_reference: stop its worker
            ns["_jobs"].put(None)
        for thread in set(threading.enumerate()) - before:  # the next test must not see it
            if isinstance(thread, threading._DummyThread):  # a foreign thread seen by threading
                continue
            thread.join(timeout=30)
            assert not thread.is_alive(), f"a simulated cell's thread did not stop: {thread!r}"


def _grade(setups, item, source):
    with defined(setups, item, source) as ns:
        grader.grade(item.check, item.name, ns)


def test_every_exercise_is_found():
    assert {i.notebook for i in ITEMS} >= {"09_1_layer_outputs", "09_2_1_cam", "09_2_2_grad_cam",
                                           "09_3_attention"}
    assert len(ITEMS) >= 12  # autograded: a function checked on fresh inputs
    assert {i.check for i in ITEMS} <= set(references.REFERENCES) == set(exercises.EXERCISES)
    manual = [i for path in sub.teacher_notebooks()
              for i in sub.make_assignments.manual_answers(sub.nbformat.read(path, 4))]
    assert len(manual) >= 9  # conceptual (predict, then measure; explain): graded by the teacher


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_teacher_answer_earns_the_points(setups, item, capsys):
    _grade(setups, item, item.solution)
    assert f"✓ {item.name}" in capsys.readouterr().out


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_the_references_formula_retyped_in_a_cell_earns_the_points(setups, item, capsys):
    """The same code as the reference, typed by the student, is a right answer."""
    source = inspect.getsource(references).split("\nREFERENCES:")[0]
    own = re.sub(r"\bref_", "my_", source)  # even renamed: names do not matter, code does
    _grade(setups, item, f"{own}\n\n{item.name} = my_{item.reference_name()[4:]}\n")
    _grade(setups, item, f"{source}\n\n{item.name} = {item.reference_name()}\n")  # same names too
    assert capsys.readouterr().out.count(f"✓ {item.name}") == 2


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_stub_and_missing_function_earn_nothing(setups, item):
    stub = f"def {item.name}(*args):\n    {sub.STUB}\n"
    with pytest.raises(grader.GradingError, match="没有通过"):
        _grade(setups, item, stub)
    with pytest.raises(grader.GradingError, match="没有找到函数"):
        grader.grade(item.check, item.name, dict(setups[item.notebook]))


HIDDEN_PATH = (sub.replace_grader, sub.hook_import)
"""Kinds that attack the hidden test cell itself: graded here through that cell (as nbgrader runs
it, ~2 s each, on the first exercise; the class test tries them in real kernels)."""

GAMED = [(item, trick) for item in ITEMS for trick in sub.GAMING
         if trick not in sub.KERNEL_ONLY and trick(item) is not None
         and (trick not in HIDDEN_PATH or item is ITEMS[0])]
"""Every (exercise, gaming kind) pair where the kind applies (the library's own implementation
exists for some exercises only), so no case is skipped. The kinds that own the kernel
(``KERNEL_ONLY``) are graded by nbgrader autograde in the class test, with the second verdict."""


def _hidden_test(setups, item, source):
    """The solution cell, then the generated hidden test cell, in one namespace (as in the kernel)."""
    with defined(setups, item, source) as ns:
        exec(compile(make_assignments.hidden_test(item.check, item.name), CELL, "exec"), ns)  # noqa: S102


def test_every_gaming_kind_applies_somewhere():
    assert {trick for _, trick in GAMED} == set(sub.GAMING) - set(sub.KERNEL_ONLY)


@pytest.mark.parametrize("item,trick", GAMED,
                         ids=[f"{i.name}-{t.__name__}" for i, t in GAMED])
def test_gaming_earns_nothing(setups, item, trick):
    source = trick(item)
    words = "不是你自己写的|自己启动的线程" if trick in sub.BORROWING else "0 分|没有通过"
    if trick in HIDDEN_PATH:  # the loader's own refusal is an AssertionError, GradingError's base
        with pytest.raises(AssertionError, match=words):
            _hidden_test(setups, item, source)
    else:
        with pytest.raises(grader.GradingError, match=words):
            _grade(setups, item, source)


def test_the_hidden_test_cell_passes_an_honest_answer(setups, capsys):
    item = ITEMS[0]
    _hidden_test(setups, item, item.solution)
    assert f"✓ {item.name}：评分通过" in capsys.readouterr().out


def test_the_hidden_test_cell_ignores_the_notebooks_names_and_builtins(setups):
    """A namespace whose builtins, ``grader`` and ``globals`` are fakes still meets the real grader."""
    import builtins

    item = ITEMS[0]

    def passes(*args, **kwargs):
        return None

    def no_import(name, *args, **kwargs):
        raise AssertionError(f"the hidden test imported {name} through the notebook's __import__")

    fake = dict(vars(builtins), __import__=no_import, globals=dict, compile=passes, exec=passes)
    stub = f"__builtins__ = fake\ngrade = _ch9_hidden_test = passes\n\n\ndef {item.name}(*args):\n" \
           f"    {sub.STUB}\n"
    with defined(setups, item, "") as ns:
        ns.update(fake=fake, passes=passes)
        exec(compile(stub, CELL, "exec"), ns)  # noqa: S102
        assert ns["__builtins__"] is fake
        # the fresh grader's GradingError: its own class, an AssertionError
        with pytest.raises(AssertionError, match="没有通过") as err:
            exec(compile(make_assignments.hidden_test(item.check, item.name), CELL, "exec"), ns)  # noqa: S102
        assert type(err.value).__name__ == "GradingError" and type(err.value) is not grader.GradingError


def test_a_replaced_builtin_is_refused_by_the_hidden_test(setups):
    import builtins

    item, sorted_ = ITEMS[0], builtins.sorted
    try:
        builtins.sorted = lambda *args, **kwargs: []
        with pytest.raises(AssertionError, match="内置函数（sorted）"):
            _hidden_test(setups, item, item.solution)
    finally:
        builtins.sorted = sorted_


def test_what_runs_is_named_in_the_reason(setups):
    """The reason says which forbidden function ran, whatever the route to it."""
    item = next(i for i in ITEMS if i.name == "contribution_map")
    for trick, words in [(sub.dict_reference, "grader.references.ref_contribution_map"),
                         (sub.eval_reference, "grader.references.ref_contribution_map"),
                         (sub.gc_reference, "gc.get_objects"),
                         (sub.exec_source, "字节码相同的副本"),
                         (sub.library_implementation, "helpers.cam.methods._finish"),
                         (sub.subprocess_reference, "os.pipe"),
                         (sub.profiler_off, "sys.setprofile"),
                         (sub.thread_reference, "线程"),
                         (sub.patch_library, "替换了库函数"),
                         (sub.peek_expected, "栈帧")]:
        with pytest.raises(grader.GradingError, match=re.escape(words)):
            _grade(setups, item, trick(item))


def test_a_function_named_like_a_reference_is_judged_by_its_code(setups, capsys):
    item = next(i for i in ITEMS if i.name == "contribution_map")
    _grade(setups, item, "import torch\n\n\ndef ref_contribution_map(acts, grads):\n"
                         "    return (grads[0] * acts[0]).sum(dim=0)\n\n\n"
                         "contribution_map = ref_contribution_map\n")
    assert "✓ contribution_map" in capsys.readouterr().out


def test_a_wrong_answer_reports_the_check_output_and_its_seed(setups):
    item = next(i for i in ITEMS if i.name == "contribution_map")
    wrong = ("def contribution_map(acts, grads):\n"
             "    return (grads[0].mean(dim=(1, 2))[:, None, None] * acts[0]).sum(dim=0)\n")  # averaged
    with pytest.raises(grader.GradingError, match="✗ 贡献图") as err:
        _grade(setups, item, wrong)
    seed = int(re.search(r"seed=(\d+)", str(err.value)).group(1))
    with pytest.raises(grader.GradingError, match=f"seed={seed}"):  # replays the same inputs
        with defined(setups, item, wrong) as ns:
            grader.grade(item.check, item.name, ns, seed=seed)


@pytest.mark.parametrize("trick", HIDDEN_PATH, ids=[t.__name__ for t in HIDDEN_PATH])
def test_the_attacks_on_the_hidden_test_fool_a_cell_that_imports_the_grader(setups, trick, capsys):
    """Why the hidden test does not simply run ``from grader import grade``: these kinds pass it."""
    item = ITEMS[0]
    naive = f"from grader import grade\ngrade({item.check!r}, {item.name!r}, globals())\n"
    with defined(setups, item, trick(item)) as ns:
        exec(compile(naive, CELL, "exec"), ns)  # noqa: S102 (no error: full points)
    assert "✓ 评分通过" in capsys.readouterr().out


class _Litter:
    """Cyclic garbage whose finalizer does what a watched answer may not (take a frame)."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        with contextlib.suppress(BaseException):  # (a refusal is recorded all the same)
            sys._getframe()


def test_garbage_left_before_the_answer_runs_is_not_finalized_as_the_answers(setups, capsys):
    """CI, stop 29: a collection that an answer triggered finalized an earlier grading's suspended
    generator inside the watched run, and the answer was refused for the grader's own code."""
    item = ITEMS[0]
    collects = (f"{item.solution}\n\nimport gc as _gc\n_theirs = {item.name}\n\n\n"
                f"def {item.name}(*args):\n    _gc.collect()  # allowed: frees memory\n"
                f"    return _theirs(*args)\n")
    gc.disable()  # (no collection before the run starts may take the litter)
    try:
        _Litter()
        _grade(setups, item, collects)
    finally:
        gc.enable()
        gc.collect()
    assert f"✓ {item.name}" in capsys.readouterr().out


def test_the_answers_own_cycles_are_finalized_while_it_is_watched(setups):
    """The other side: a finalizer the answer leaves behind runs before the watch ends."""
    item = ITEMS[0]
    litters = (f"{item.solution}\n\n_theirs = {item.name}\n\n\ndef {item.name}(*args):\n"
               f"    _Litter()\n    return _theirs(*args)\n")
    with defined(setups, item, litters) as ns:
        ns["_Litter"] = _Litter
        with pytest.raises(grader.GradingError, match="sys._getframe"):
            grader.grade(item.check, item.name, ns)


def test_a_failed_grading_leaves_no_suspended_generator(setups):
    item = ITEMS[0]
    gc.disable()
    try:
        with pytest.raises(grader.GradingError, match="没有通过"):
            _grade(setups, item, f"def {item.name}(*args):\n    {sub.STUB}\n")
        left = [o for o in gc.get_objects() if type(o) is types.GeneratorType
                and o.gi_frame is not None and o.gi_code.co_name == "trials"]
    finally:
        gc.enable()
    assert not left
