"""Check that what students get holds no reference answer (used by the edition builders).

A reference is recognized by its code, not its name: every function compiled
from a file of the student package, or defined in a notebook's code cell, is
compared with the code of every reference in ``grader/references.py`` (the
bytecode fingerprint of :mod:`grader.forbidden`). A ``ref_*`` function and an
import of ``grader`` are reported too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .forbidden import ROOT, _codes, fingerprint, qualname

_IMPORTS_GRADER = re.compile(r"^\s*(from|import)\s+grader\b", re.MULTILINE)


@lru_cache(maxsize=1)
def _reference_prints() -> dict[tuple, str]:
    path = ROOT / "grader" / "references.py"
    module = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    return {fingerprint(c): qualname(c) for c in _codes(module)
            if c is not module and "<" not in qualname(c)}  # whole references, not comprehensions


def leaks_in_source(source: str, label: str) -> list[str]:
    """Reference code, ``ref_*`` functions and ``grader`` imports in one piece of Python source."""
    found = []
    if _IMPORTS_GRADER.search(source):
        found.append(f"{label}: imports grader")
    try:
        module = compile(source, label, "exec")
        tree = ast.parse(source)
    except SyntaxError:  # a notebook cell with magics: its functions are still checked
        source = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
        try:
            module, tree = compile(source, label, "exec"), ast.parse(source)
        except SyntaxError:
            return found
    prints = _reference_prints()
    for code in _codes(module):
        if code is not module and fingerprint(code) in prints:
            found.append(f"{label}: {qualname(code)} is the code of {prints[fingerprint(code)]}")
    found += [f"{label}: defines {n.name}" for n in ast.walk(tree)
              if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("ref_")]
    return found


def leaks_in_package(folder: Path = ROOT / "helpers") -> list[str]:
    """Every leak in the ``.py`` files under ``folder`` (default: the student package)."""
    return [leak for path in sorted(folder.rglob("*.py"))
            for leak in leaks_in_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]


def leaks_in_notebooks(paths: Iterable[Path]) -> list[str]:
    """Every leak in the code cells of notebooks (a student edition, an nbgrader release)."""
    import nbformat

    found = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for k, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                found += leaks_in_source(cell.source, f"{path.name} cell {k}")
    return found


def assert_no_references(notebooks: Iterable[Path] = ()) -> None:
    """Raise when the student package or ``notebooks`` hold a reference answer.

    Raises:
        RuntimeError: listing every leak found.
    """
    found = leaks_in_package() + leaks_in_notebooks(notebooks)
    if found:
        raise RuntimeError("reference answers in what students get:\n  " + "\n  ".join(found))


__all__ = ["assert_no_references", "leaks_in_notebooks", "leaks_in_package", "leaks_in_source"]
