"""Slide boundaries live in cell metadata, so a lecture flows through the book's figures.

`make slides` turns each notebook into a reveal.js deck; the cells' ``slideshow.slide_type``
decides where a new slide starts, what is a fragment and what is left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SECTIONS = sorted(p for p in NOTEBOOKS.glob("*.ipynb")
                  if p.name.startswith("09_") or p.name == "00_start_here.ipynb")
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
FIGURES = ("image/png", "image/jpeg", "image/svg+xml")


def slide_type(cell: dict) -> str:
    """A cell's slide type; a cell without one continues the current slide ("-")."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def has_figure(cell: dict) -> bool:
    return any(kind in out.get("data", {}) for out in cell.get("outputs", []) for kind in FIGURES)


def test_there_are_section_notebooks():
    assert any(p.name.startswith("09_") for p in SECTIONS)


@pytest.mark.parametrize("ipynb", SECTIONS, ids=lambda p: p.name)
def test_slide_metadata(ipynb: Path):
    cells = json.loads(ipynb.read_text(encoding="utf-8"))["cells"]
    with_meta = [c for c in cells if "slideshow" in c.get("metadata", {})]
    if not with_meta and ipynb.name.startswith("09_3"):
        # 9.3 (attention) was still being written when slide metadata was added to the
        # other notebooks; it is checked as soon as it carries any slideshow metadata.
        pytest.skip(f"{ipynb.name} has no slide metadata yet")
    types = [slide_type(c) for c in cells]
    assert set(types) <= SLIDE_TYPES, f"unknown slide types: {set(types) - SLIDE_TYPES}"
    assert types[0] == "slide", "the first cell (section title and goals) must open a slide"
    assert types.count("slide") >= 3, f"only {types.count('slide')} slide boundaries"
    hidden = [i for i, (c, t) in enumerate(zip(cells, types))
              if has_figure(c) and t in ("skip", "notes")]
    assert not hidden, f"cells {hidden} draw a figure but are left out of the slides"
