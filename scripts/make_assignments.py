"""Generate the nbgrader assignments from the teacher notebooks, then their release versions.

One assignment per notebook that has exercises, named after the notebook. An
exercise is what the notebooks already mark for the student edition
(``scripts/make_student.py``): a code cell tagged ``solution`` that defines a
function, and a later cell that calls a check on it,
``exercises.<module>.check_<x>(<function>, ...)``. For each exercise:

* the solution cell becomes an nbgrader solution cell: every function keeps
  its signature and docstring, its body goes between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION`` (the release version gets the same stub as the student
  edition);
* the instant check stays for self-study, ungraded;
* a conceptual exercise (its solution cell is checked by ``concepts.check_*``:
  a prediction compared with a measurement, and an explanation in words) becomes
  a manually graded answer worth its points: the teacher reads it in formgrader;
* a locked, autograded test cell with points follows it; its hidden tests
  (``### BEGIN HIDDEN TESTS``, :func:`hidden_test`) load the grader afresh from its files
  (``grader/boot.py``, past whatever the notebook replaced) and call its ``grade``, which runs the exercise
  on fresh random inputs against the grader-only reference and rejects answers
  that run a reference or the library's own implementation.

New exercises written in the same form are picked up without changing this script.

Usage:
    python scripts/make_assignments.py [--course course] [--exercises-only] [--no-release]

``--course`` is an nbgrader course directory with ``nbgrader_config.py``
(default: ``course/``). The sources go to ``<course>/source/<id>/<id>.ipynb``
and ``nbgrader generate_assignment`` writes ``<course>/release/<id>/``.
``--exercises-only`` keeps only the import cells and the exercises (small
sections for the class test).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the grader-only package, for its leak check
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
POINTS = 1  # per exercise; a solution cell may set metadata {"points": n}


@dataclass
class Exercise:
    """One graded function: where it is written, where it is checked, how it is called."""

    solution: int  # index of the solution cell
    check_cell: int  # index of the cell that calls the check
    name: str  # the student's function
    check: str  # path in helpers.exercises, e.g. "cam.check_contrast_gradient"
    points: int


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _check_calls(source: str) -> list[tuple[str, str]]:
    """``(check path, first argument)`` of every ``exercises....check_x(name, ...)`` call."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name):
            parts = (_dotted(node.func) or "").split(".")
            if parts[-1].startswith("check_") and "exercises" in parts[:-1]:
                found.append((".".join(parts[parts.index("exercises") + 1:]), node.args[0].id))
    return found


def _functions(source: str) -> list[ast.FunctionDef]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _concept_calls(source: str) -> set[str]:
    """Names passed to a ``concepts.check_*(title, name, ...)`` call (conceptual exercises)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {arg.id for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (_dotted(node.func) or "").split(".")[-2:-1] == ["concepts"]
            for arg in node.args if isinstance(arg, ast.Name)}


def _needs_the_notebook(check: str) -> bool:
    """A check with a second required argument compares with values measured in the notebook
    (a prediction), so fresh inputs cannot grade it."""
    import importlib
    import inspect

    module, name = check.rsplit(".", 1)
    fn = getattr(importlib.import_module(f"helpers.exercises.{module}"), name)
    required = [p for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) > 1


def manual_answers(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the solution cells of conceptual exercises (graded by the teacher).

    Conceptual: its functions are checked by ``concepts.check_*``, or by an
    exercise check that needs values measured in the notebook (a prediction).
    """
    cells, out = nb.cells, []
    for i, c in enumerate(cells):
        if c.cell_type == "code" and "solution" in c.metadata.get("tags", []):
            names = {f.name for f in _functions(c.source)}
            later = "\n".join(d.source for d in cells[i + 1:i + 4] if d.cell_type == "code")
            predicted = {arg for check, arg in _check_calls(later) if _needs_the_notebook(check)}
            if names and names <= _concept_calls(later) | predicted:
                out.append(i)
    return out


def find_exercises(nb: nbformat.NotebookNode, label: str = "notebook") -> list[Exercise]:
    """Every autograded exercise of a teacher notebook, in order (see :func:`manual_answers`).

    Raises:
        ValueError: a solution cell whose functions no later cell checks.
    """
    cells = nb.cells
    manual = set(manual_answers(nb))
    solutions = [i for i, c in enumerate(cells) if i not in manual
                 and c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    found = []
    for k, i in enumerate(solutions):
        names = {f.name for f in _functions(cells[i].source)}
        stop = solutions[k + 1] if k + 1 < len(solutions) else len(cells)
        points = int(cells[i].metadata.get("points", POINTS))
        checked = set()
        for j in range(i + 1, stop):
            if cells[j].cell_type != "code":
                continue
            for check, arg in _check_calls(cells[j].source):
                if arg in names and arg not in checked:
                    checked.add(arg)
                    found.append(Exercise(i, j, arg, check, points))
        if not checked:
            raise ValueError(f"{label}: solution cell {i} ({sorted(names) or 'no function'}) is "
                             "followed by no exercises.<module>.check_<x>(<function>) call")
    return found


def mark_solution(source: str) -> str:
    """The solution cell with each function body between the nbgrader markers.

    Signature and docstring stay outside (the student sees them); a cell with no
    function is wrapped whole.
    """
    funcs = _functions(source)
    lines = source.splitlines()
    if not funcs:
        return "\n".join([BEGIN, *lines, END])
    for fn in reversed(funcs):  # from the bottom, so line numbers stay valid
        body = fn.body
        has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                   and isinstance(body[0].value.value, str))
        if has_doc and len(body) == 1:
            continue
        indent = " " * body[0].col_offset
        start = body[0].end_lineno if has_doc else body[0].lineno - 1
        lines[fn.end_lineno:fn.end_lineno] = [indent + END]
        lines[start:start] = [indent + BEGIN]
    return "\n".join(lines)


def test_source(ex: Exercise) -> str:
    """The autograded test cell: a visible sanity line, the real test hidden."""
    return "\n".join([
        f"# 评分单元格（{ex.points} 分）：评分时用新的随机输入检查 {ex.name}，只看结果，不看打印的 ✓。",
        "# 请不要删除或修改这个单元格。",
        f'assert callable({ex.name}), "{ex.name} 应该是一个函数"',
        "### BEGIN HIDDEN TESTS",
        hidden_test(ex.check, ex.name),
        "### END HIDDEN TESTS",
    ])


# The hidden test reaches the grader without any name, module or builtin that the notebook
# could have replaced: syntax and the interpreter's immutable types (object, type, dict, FileIO)
# find the interpreter's own builtins dict and FileIO, which read grader/boot.py (issue 24).
HIDDEN = '''def _ch9_hidden_test(folder, check, name):
    o = ().__class__.__base__
    t = o.__dict__["__class__"].__get__  # type(x), whatever names the notebook rebound
    ty, bfm, fn, dt = t(o), t([].append), t(lambda: 0), t({})
    sub, members = ty.__dict__["__subclasses__"], ty.__dict__["__dict__"].__get__
    flags, tname = ty.__dict__["__flags__"].__get__, ty.__dict__["__name__"].__get__
    g = fileio = None
    todo = [o]
    while todo and (g is None or fileio is None):
        c = todo.pop()
        todo += sub(c)
        if fileio is None and flags(c) & 256 and "FileIO" == tname(c):
            fileio = c
        for f in members(c).values() if g is None else ():  # t(None) is an error: `is not None` first
            d = f.__builtins__ if f is not None and t(f) is fn else {}
            if t(d) is dt and t(d.get("exec", d)) is bfm and t(d.get("compile", d)) is bfm:
                m = d["exec"].__self__
                if m.__dict__ is d and d["compile"].__self__ is m and "exec" == d["exec"].__name__ \\
                        and "compile" == d["compile"].__name__:
                    g = d
                    break
    assert g is not None and fileio is not None, "评分程序找不到解释器自己的内置函数。本题 0 分。"
    with fileio(folder + "/boot.py") as fh:
        code = g["compile"](fh.readall(), folder + "/boot.py", "exec")
    space = {"__builtins__": g, "__name__": "_ch9_boot"}
    g["exec"](code, space)
    space["run"](folder, check, name, (lambda: 0).__globals__, fileio)'''


def hidden_test(check: str, name: str, folder: Path | None = None) -> str:
    """The hidden test of one exercise: the fresh grader (``grader/boot.py``) grades ``name``."""
    folder = folder or ROOT / "grader"
    return f"{HIDDEN}\n\n\n_ch9_hidden_test({str(folder)!r}, {check!r}, {name!r})"


def _nbgrader(cell: nbformat.NotebookNode, grade_id: str, *, solution: bool, points: int = 0) -> None:
    meta = {"grade": not solution, "grade_id": grade_id, "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
    if not solution:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    cell.outputs, cell.execution_count = [], None


def _imports_only(source: str) -> bool:
    try:
        tree = ast.parse("\n".join(ln for ln in source.splitlines() if not ln.startswith("%")))
    except SyntaxError:
        return False
    return all(isinstance(n, (ast.Import, ast.ImportFrom)) or
               (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)) for n in tree.body)


def source_notebook(nb: nbformat.NotebookNode, label: str = "notebook",
                    exercises_only: bool = False) -> nbformat.NotebookNode:
    """The nbgrader source version of a teacher notebook (see the module docstring)."""
    exercises = find_exercises(nb, label)
    out = nbformat.from_dict(copy.deepcopy(nb))
    for key in ("jupytext", "widgets"):
        out.metadata.pop(key, None)
    tests = {}  # check-cell index -> test cells to insert after it
    for ex in exercises:
        tests.setdefault(ex.check_cell, []).append(ex)
    solutions = {ex.solution for ex in exercises}
    manual = set(manual_answers(nb))
    first_code = next(i for i, c in enumerate(out.cells) if c.cell_type == "code")
    cells = []
    for i, cell in enumerate(out.cells):
        if i in solutions:
            cell.source = mark_solution(cell.source)
            names = "_".join(f.name for f in _functions(nb.cells[i].source)) or f"cell{i}"
            _nbgrader(cell, f"{names}_answer", solution=True)
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "solution"]
            cells.append(cell)
        elif i in manual and not exercises_only:
            cell.source = mark_solution(cell.source)
            names = "_".join(f.name for f in _functions(nb.cells[i].source))
            # two conceptual exercises may both be prediction()/explanation(): the second
            # one's grade id is numbered (nbgrader refuses a notebook with a repeated id)
            k = sum(1 for c in cells if c.metadata.get("nbgrader", {}).get("grade_id", "")
                    .startswith(f"{names}_concept"))
            _nbgrader(cell, f"{names}_concept" + (f"_{k + 1}" if k else ""), solution=True)
            cell.metadata["nbgrader"].update(grade=True, points=int(cell.metadata.get("points",
                                                                                     POINTS)))
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "solution"]
            cells.append(cell)
        elif exercises_only and not (i == first_code or (i < first_code and cell.cell_type == "markdown")
                                     or (cell.cell_type == "code" and _imports_only(cell.source))):
            pass
        else:
            if i in tests:
                cell.outputs, cell.execution_count = [], None
            cells.append(cell)
        for ex in tests.get(i, []):
            test = nbformat.v4.new_code_cell(test_source(ex))
            _nbgrader(test, f"{ex.name}_test", solution=False, points=ex.points)
            cells.append(test)
    out.cells = cells
    return out


def write_sources(course: Path, notebooks: list[Path], exercises_only: bool = False) -> list[str]:
    """Write ``<course>/source/<id>/<id>.ipynb`` for each notebook with exercises; returns the ids."""
    ids = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if not any("solution" in c.metadata.get("tags", []) for c in nb.cells):
            continue
        target = course / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(nb, path.name, exercises_only), target)
        ids.append(path.stem)
    return ids


def release(course: Path, ids: list[str]) -> None:
    """``nbgrader generate_assignment`` for each id, in one process, with the course's config.

    Raises:
        RuntimeError: nbgrader failed, or ``helpers/`` or a release holds a reference answer.
    """
    from grader.leaks import assert_no_references

    # nbgrader runs its `alembic` command from PATH
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.Application.log_level = "WARN"
    api = NbGraderAPI(config=config)
    for assignment in ids:
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n"
                               f"{result['error']}\n{result['log']}")
    assert_no_references(course / "release" / a / f"{a}.ipynb" for a in ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=ROOT / "course")
    parser.add_argument("--notebooks", type=Path, nargs="*",
                        default=sorted((ROOT / "notebooks").glob("*.ipynb")))
    parser.add_argument("--exercises-only", action="store_true")
    parser.add_argument("--no-release", action="store_true")
    args = parser.parse_args(argv)
    if not (args.course / "nbgrader_config.py").is_file():
        parser.error(f"{args.course} has no nbgrader_config.py")
    ids = write_sources(args.course.resolve(), args.notebooks, args.exercises_only)
    if not args.no_release:
        release(args.course.resolve(), ids)
    for assignment in ids:
        print(f"{assignment}: source/{assignment}/"
              + ("" if args.no_release else f" -> release/{assignment}/"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
