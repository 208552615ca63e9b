"""The student edition: stubs instead of solutions, no answer left behind."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from make_student import STUB, build, stub_source, student_notebook  # noqa: E402

SOLUTION = '''# 练习 1
import numpy as np

def normalize(a):
    """Min-max normalize ``a``."""
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo)

def second(x, y=2):
    return x * y
'''

NOTEBOOKS = sorted((ROOT / "notebooks").glob("09_*.ipynb"))


def test_stub_keeps_signature_and_docstring_only():
    out = stub_source(SOLUTION)
    assert "def normalize(a):" in out and '"""Min-max normalize ``a``."""' in out
    assert "def second(x, y=2):" in out and "# 练习 1" in out
    assert "hi - lo" not in out and "x * y" not in out and "import numpy" not in out
    namespace: dict = {}
    exec(out, namespace)
    with pytest.raises(NotImplementedError):
        namespace["normalize"](None)
    with pytest.raises(NotImplementedError):
        namespace["second"](1)


def test_non_function_solution_becomes_a_stub():
    assert stub_source("answer = 14\n").endswith(STUB)
    assert "14" not in stub_source("answer = 14\n")


def test_solution_and_check_outputs_are_cleared():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", execution_count=1),
        nbformat.v4.new_code_cell(SOLUTION, metadata={"tags": ["solution"]}, execution_count=2),
        nbformat.v4.new_code_cell("check(normalize)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="✓ 正确")]),
    ]
    out = student_notebook(nb)
    assert out.cells[0].execution_count == 1
    assert out.cells[1].metadata["tags"] == ["exercise"] and "hi - lo" not in out.cells[1].source
    assert out.cells[2].outputs == [] and nb.cells[2].outputs  # the teacher copy is untouched


def _solution_statements(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    body = node.body[1:] if ast.get_docstring(node) else node.body
                    found += [ast.unparse(stmt) for stmt in body]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_has_exercises_and_no_solution_code(path, tmp_path):
    teacher = nbformat.read(path, as_version=4)
    statements = _solution_statements(teacher)
    assert len([c for c in teacher.cells if "solution" in c.metadata.get("tags", [])]) >= 3
    (student_path,) = build(tmp_path, [path])
    student = nbformat.read(student_path, as_version=4)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    student_statements = set()
    for cell in student.cells:
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    student_statements |= {ast.unparse(s) for s in node.body}
    leaked = [s for s in statements if s in student_statements and s != STUB]
    assert not leaked, f"solution code left in the student edition: {leaked}"
    assert code.count("NotImplementedError") >= 3
