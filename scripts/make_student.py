"""Write the student edition of the notebooks: solutions replaced by stubs.

The notebooks in ``notebooks/`` are the teacher edition. Every cell tagged
``solution`` holds one or more function definitions; the student edition keeps
each signature and docstring and replaces the body with a stub that raises
``NotImplementedError``, so the check cell after it answers "not done yet".
Outputs of solution and check cells are cleared (they would show the answers).
The build fails when the student package (``helpers/``) or an edition's code
cells hold a reference answer (``grader.leaks``): the references belong to the
grader-only package ``grader/``.

Usage: python scripts/make_student.py [--out build/student]
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the grader-only package, for its leak check
STUB = 'raise NotImplementedError("练习：请在这里写出你的代码")'


def _stub_function(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str:
    """Source of ``node`` with its body replaced by a TODO stub (docstring kept)."""
    first_body = node.body[0]
    has_doc = (isinstance(first_body, ast.Expr) and isinstance(first_body.value, ast.Constant)
               and isinstance(first_body.value.value, str))
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    keep_until = first_body.end_lineno if has_doc else first_body.lineno - 1
    head = lines[start:keep_until]
    indent = " " * first_body.col_offset
    return "\n".join(head + [f"{indent}# TODO: 在这里写出你的代码", f"{indent}{STUB}"])


def stub_source(source: str) -> str:
    """Turn a solution cell's source into the student's stub.

    Function definitions keep their signature and docstring; comments before
    the first definition stay; every other statement is dropped.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    funcs = [n for n in (tree.body if tree else []) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not funcs:
        return f"# 练习：请在这里写出你的答案\n{STUB}"
    lines = source.splitlines()
    first = funcs[0].decorator_list[0].lineno if funcs[0].decorator_list else funcs[0].lineno
    preamble = [ln for ln in lines[: first - 1] if ln.strip().startswith("#")]
    parts = ["\n".join(preamble)] if preamble else []
    parts += [_stub_function(f, lines) for f in funcs]
    return "\n\n\n".join(parts) + "\n"


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solution cells stubbed and answer outputs cleared."""
    out = nbformat.from_dict(nb)
    after_solution = False
    for cell in out.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code":
            continue
        if "solution" in tags:
            cell.source = stub_source(cell.source)
            cell.metadata["tags"] = [t for t in tags if t != "solution"] + ["exercise"]
            cell.outputs, cell.execution_count = [], None
            after_solution = True
        elif after_solution or "check" in tags:
            cell.outputs, cell.execution_count = [], None
            after_solution = False
    return out


def build(out_dir: Path, notebooks: list[Path]) -> list[Path]:
    """Write the student edition of ``notebooks`` into ``out_dir``; returns the new paths.

    Raises:
        RuntimeError: ``helpers/`` or a written notebook holds a reference answer.
    """
    from grader.leaks import assert_no_references

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        target = out_dir / path.name
        nbformat.write(student_notebook(nb), target)
        written.append(target)
    assert_no_references(written)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    written = build(args.out, sorted((ROOT / "notebooks").glob("*.ipynb")))
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
