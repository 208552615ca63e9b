"""The notebooks on the textbook's torchvision path (VGG16-bn, ResNet18), with stand-in weights.

Stored outputs are compared (nbval) only for the bundled run; here a notebook
that follows the model source must run top to bottom without an error, say which
source it used, and flag the stand-in file as not the published one (standin.py).
The notebooks with exercises take this path in their student edition
(tests/editions), which runs every cell but the answers: each notebook is run
on the torchvision path once per ``make test``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from standin import ROOT, check_torchvision_run, follows_source, shared_torch_home, user_checkpoints


def _has_exercises(path: Path) -> bool:
    return any("solution" in c.metadata.get("tags", []) for c in nbformat.read(path, 4).cells)


NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")
                   if follows_source(p) and not _has_exercises(p))


@pytest.fixture(scope="module")
def torch_home():
    return shared_torch_home()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_torchvision_path(name, torch_home, monkeypatch):
    before = user_checkpoints()
    monkeypatch.setenv("CH9_MODEL_SOURCE", "torchvision")
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()  # raises CellExecutionError with the failing cell on any error
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    check_torchvision_run(name, text)
    assert user_checkpoints() == before, "the run wrote into the user's own torch cache"


def test_every_notebook_on_the_path_is_run_here_or_as_a_student_edition():
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "editions"))
    from test_student_run import NOTEBOOKS as EDITIONS

    on_path = {p.name for p in (ROOT / "notebooks").glob("*.ipynb") if follows_source(p)}
    assert on_path == set(NOTEBOOKS) | {p.name for p in EDITIONS if follows_source(p)}
    assert "00_start_here.ipynb" in NOTEBOOKS and "09_2_2_grad_cam.ipynb" not in NOTEBOOKS
