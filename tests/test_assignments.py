"""`make assignments` turns every teacher notebook into a source notebook that nbgrader accepts.

The class test grades the *exercise-only* versions; the full versions (what a teacher
releases) add the manually graded conceptual answers. nbgrader's own metadata check
(the one ``generate_assignment`` runs) must pass on each, without executing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_assignments  # noqa: E402

NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if make_assignments.find_exercises(nbformat.read(p, 4), p.stem)]


@pytest.mark.parametrize("exercises_only", [False, True], ids=["full", "exercises-only"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_passes_nbgraders_metadata_check(path, exercises_only):
    nb = make_assignments.source_notebook(nbformat.read(path, 4), path.stem, exercises_only)
    MetadataValidator().validate_nb(nb)  # raises on a repeated grade id or bad metadata
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)) and ids


def test_two_conceptual_exercises_with_the_same_function_names_get_two_ids():
    nb = make_assignments.source_notebook(nbformat.read(ROOT / "notebooks/09_2_2_grad_cam.ipynb", 4))
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert "prediction_explanation_concept" in ids and "prediction_explanation_concept_2" in ids
