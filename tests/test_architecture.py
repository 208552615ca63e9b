"""The maintainer's map (docs/architecture.md) holds: imports go downward only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
LAYER = {
    "arrays": 0, "sources": 0, "fonts": 0, "hooks": 0, "guided": 0, "rankcorr": 0,
    "images": 1, "bundle": 1.5, "models": 2, "shapenets": 1, "lite0": 1, "shapes": 2.1,
    "cam_engine": 3, "cam_weights": 3.1, "cam": 3.2,
    "attribution_base": 3, "occlusion": 3.1, "integrated": 3.1, "attribution": 3.3,
    "baselines": 3, "faithfulness": 3.1, "localization": 3, "sanity": 3, "channels": 3,
    "textdata": 3, "textmodels": 4, "text": 5, "attn_trust": 5,
    "viz": 6, "textviz": 7, "widgets": 8, "exercises": 8, "grading": 9,
}


def top_level_imports(path: Path) -> set[str]:
    """Modules of ours imported at module level (not inside a function)."""
    package = path.relative_to(HELPERS).parts[:-1]  # () or ("widgets",)
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            parts = list(base) + (node.module.split(".") if node.module else [])
            if parts:
                found.add(parts[0])
            else:
                found |= {alias.name for alias in node.names}
    return found


def own_name(path: Path) -> str:
    rel = path.relative_to(HELPERS).parts
    return rel[0] if len(rel) > 1 else path.stem


@pytest.mark.parametrize("path", sorted(p for p in HELPERS.rglob("*.py")
                                        if p.name != "__init__.py" or p.parent != HELPERS),
                         ids=lambda p: str(p.relative_to(HELPERS)))
def test_imports_go_downward_only(path):
    me = own_name(path)
    assert me in LAYER, f"{me} is missing from docs/architecture.md's layers"
    for other in top_level_imports(path) - {me}:
        assert LAYER[other] < LAYER[me], f"{path.name} ({me}) imports {other}, which is not below it"


def test_the_map_lists_every_module():
    text = (HELPERS.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in LAYER:
        assert f"`{name}" in text
