"""Every notebook has a jupytext percent .py twin with the same content."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_pair_in_sync(ipynb: Path):
    py = ipynb.with_suffix(".py")
    assert py.is_file(), f"{py.name} is missing: run `make sync`"
    expected = jupytext.writes(jupytext.read(ipynb), fmt="py:percent")
    assert py.read_text(encoding="utf-8") == expected, f"{py.name} is out of sync: run `make sync`"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stored(ipynb: Path):
    nb = jupytext.read(ipynb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "run the notebook before committing"
    assert any(c.outputs for c in code)
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"stored error output in {ipynb.name}"
