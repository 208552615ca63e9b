"""The maintainer's map (docs/architecture.md) holds: which package may import which, from the AST.

Every ``import`` and ``from ... import`` of ours counts, at module level or inside a function
(a lazy import is still a dependency). A unit is a core module (``arrays``, ``hooks``,
``images``, ...) or a family package (``cam/``, ``trust/``, ...); imports inside one unit are
free.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"

CORE = {"arrays", "hooks", "images", "contract", "explanation", "registry"}
"""Shared by every family; ``contract``, ``explanation`` and ``registry`` once they exist."""

ALLOWED: dict[str, set[str]] = {
    "hooks": set(),  # works on any module and imports nothing of ours
    "arrays": set(),
    **{name: CORE for name in CORE - {"hooks", "arrays"}},
    "memory": set(),  # gives freed heap pages back after each cell; imports nothing of ours
    "_moved": set(),  # the old flat names; imports by name at run time only
    "models": CORE,
    "toy": CORE | {"models"},
    "cam": CORE | {"models"},
    "attribution": CORE | {"models", "cam"},  # Guided Grad-CAM is Guided Backprop x Grad-CAM
    "text": CORE | {"models"},
    "trust": CORE | {"models", "toy", "text"},  # never cam or attribution: it judges any map
    "draw": CORE | {"models", "text"},  # draws numbers; never computes a method, knows no UI
    "channels": CORE | {"models", "toy"},  # what a channel sees, as numbers; no picture
    "widgets": CORE | {"models", "toy", "cam", "attribution", "text", "trust", "draw", "channels"},
    "exercises": CORE | {"models", "toy", "cam", "attribution", "text", "trust", "draw", "channels"},
}
"""Unit -> the units it may import. Nothing imports ``widgets``, ``exercises`` or ``grading``."""

FACADE = {"_moved", "models", "cam", "attribution", "draw", "memory"} | CORE
"""What ``helpers/__init__.py`` may import (``draw`` only inside ``setup``): not ``text``,
``widgets`` or ``exercises``, so that ``import helpers`` stays light."""


def unit_of(path: Path) -> str:
    rel = path.relative_to(HELPERS)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_units(path: Path, source: str | None = None) -> dict[str, int]:
    """Units of ours that ``path`` (or ``source``, as if it were there) imports, with the line of
    the first import of each."""
    rel = path.relative_to(HELPERS).with_suffix("").parts
    package = rel[:-1]  # where "." points: () for helpers/x.py, ("cam",) for helpers/cam/x.py
    found: dict[str, int] = {}
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source)):
        names: list[list[str]] = []
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level <= len(package) + 1, f"{path}: import beyond helpers"
            base = list(package[: len(package) - node.level + 1])
            module = base + (node.module.split(".") if node.module else [])
            names = [module] if module else [[a.name] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers":
            module = node.module.split(".")[1:]
            names = [module] if module else [[a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "helpers"]
            names = [n or ["__init__"] for n in names]
        for parts in names:
            found.setdefault(parts[0], node.lineno)
    return found


MODULES = sorted(p for p in HELPERS.rglob("*.py") if p != HELPERS / "__init__.py")


def test_the_parser_sees_every_form_of_import():
    source = ("from ..cam import methods\n"
              "from .. import arrays, draw\n"
              "from . import rankcorr\n"
              "import helpers.attribution.guided\n"
              "def f():\n"
              "    from helpers.widgets import common\n")
    units = imported_units(HELPERS / "trust" / "new_metric.py", source)
    assert units == {"cam": 1, "arrays": 2, "draw": 2, "trust": 3, "attribution": 4, "widgets": 6}
    assert not {"cam", "attribution", "widgets"} & ALLOWED["trust"]  # so the rule would fail it
    assert imported_units(HELPERS / "hooks.py", "from .arrays import minmax\n") == {"arrays": 1}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HELPERS)))
def test_each_unit_imports_only_what_the_map_allows(path):
    me = unit_of(path)
    assert me in ALLOWED, f"{me} is not in the map (ALLOWED here and docs/architecture.md)"
    for other, line in imported_units(path).items():
        if other != me:
            assert other in ALLOWED[me], (f"{path.relative_to(HELPERS)}:{line}: {me} imports "
                                          f"{other}, which the map does not allow")


def test_import_helpers_pulls_in_only_the_light_units():
    units = set(imported_units(HELPERS / "__init__.py"))
    assert units <= FACADE, units - FACADE


def test_every_package_says_its_job_in_its_first_line():
    for init in sorted(HELPERS.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init} has no docstring"
        assert doc.splitlines()[0].endswith("."), f"{init}: the first line is not one sentence"


def test_the_map_lists_every_unit_and_module():
    text = (HELPERS.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for unit in ALLOWED:
        if (HELPERS / unit).is_dir() or (HELPERS / f"{unit}.py").is_file():
            assert f"`{unit}" in text, unit
    for path in MODULES:
        rel = path.relative_to(HELPERS)
        if path.name != "__init__.py" and len(rel.parts) > 1:
            assert f"`{path.name}`" in text or f"`{rel.as_posix()}`" in text, rel
