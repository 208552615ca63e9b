"""The student edition runs top to bottom, and every check says "not done yet" politely.

Each notebook's student edition is executed in a fresh kernel. Errors are
allowed only in exercise cells; every check cell must print the ○ message and
no traceback. A notebook that follows the model source runs on the textbook's
torchvision path here, with stand-in weights (tests/tvpath/standin.py): nbval
runs every teacher notebook on the bundled model, so this run is the one that
proves every cell but the answers also works with VGG16-bn and ResNet18.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "tvpath"))
from make_student import build  # noqa: E402
from standin import check_torchvision_run, follows_source, shared_torch_home, user_checkpoints  # noqa: E402

NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if any("solution" in c.metadata.get("tags", []) for c in nbformat.read(p, 4).cells)]


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
        if out.get("output_type") == "error":
            parts.append(f"ERROR {out['ename']}: {out['evalue']}")
    return "".join(parts)


@pytest.fixture(scope="module")
def torch_home():
    return shared_torch_home()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_runs_and_checks_answer_not_done(path, tmp_path, request, monkeypatch):
    torchvision = follows_source(path)
    if torchvision:
        before = user_checkpoints()
        monkeypatch.setenv("CH9_MODEL_SOURCE", "torchvision")
        monkeypatch.setenv("TORCH_HOME", str(request.getfixturevalue("torch_home")))
    (student,) = build(tmp_path, [path])
    nb = nbformat.read(student, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(i, _text(c)) for i, c in enumerate(cells)
              if any(o.get("output_type") == "error" for o in c.outputs)
              and "exercise" not in c.metadata.get("tags", [])]
    assert not errors, f"errors outside exercise cells: {errors}"
    checks = [c for i, c in enumerate(cells[1:], 1)
              if "exercise" in cells[i - 1].metadata.get("tags", [])]
    assert len(checks) >= 3
    for c in checks:
        text = _text(c)
        assert "○" in text and "Traceback" not in text and "ERROR" not in text, text
    if torchvision:
        check_torchvision_run(path.name, "\n".join(_text(c) for c in cells))
        assert user_checkpoints() == before, "the run wrote into the user's own torch cache"
