"""The grader-only package: references against helpers' own implementations, stored answers
up to date, forbidden functions resolved, leaks refused by the builders."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from grader import forbidden, leaks, public
from grader import references as refs
from helpers import cam
import helpers.cam.methods  # noqa: F401 (cam.methods._finish)
from helpers.cam import engine as cam_engine, weights as cam_weights
from helpers.draw import viz
from helpers.trust import attention as attn_trust, faithfulness, localization
from helpers.exercises import EXERCISES, attention, cam as excam, layers, trust
from helpers.text.models import SelfAttention
from helpers.widgets.feature_maps import rank_channels

ROOT = Path(__file__).resolve().parent.parent


def _draws(ex, n=2, seed=3):
    return list(ex.draw(seed))[:n] + list(ex.draw(seed + 1))[:n]


def test_deletion_auc_reference_is_faithfulness_deletion_curve():
    for model, x, sal, c, steps in _draws(trust.DELETION_AUC, n=3):
        want = faithfulness.deletion_curve(model, x, sal, c, steps).auc
        assert refs.ref_deletion_auc(model, x, sal, c, steps) == pytest.approx(want, abs=1e-6)


def test_pointing_hit_reference_is_localization_pointing_game():
    for ex_args in _draws(trust.POINTING_HIT, n=6):
        cam_map, mask, tol = ex_args
        assert refs.ref_pointing_hit(cam_map, mask, tol) == localization.pointing_game(cam_map, mask, tol)


def test_layer_references_are_the_librarys_own():
    for (channel,) in _draws(layers.SHOWIMG_NORMALIZE, n=6):
        np.testing.assert_allclose(refs.ref_showimg_normalize(channel),
                                   viz.normalize(np.maximum(channel, 0)) ** 2, atol=1e-6)
    for acts, k in _draws(layers.TOP_CHANNELS):
        assert refs.ref_top_channels(acts, k) == rank_channels(acts)[:k].tolist()


def test_gradcam_references_are_the_cam_engines():
    for acts, grads in _draws(excam.CONTRIBUTION_MAP):
        w = cam_weights.grad_cam_weights(types.SimpleNamespace(grads=grads))  # (1, C)
        torch.testing.assert_close(refs.ref_gradcam_weights(grads), w[0])
        hires = cam_weights.hires_cam_weights(types.SimpleNamespace(grads=grads))  # (1, C, h, w)
        raw = cam.methods._finish(acts, hires, [0], torch.zeros(1, 2), tuple(acts.shape[-2:]), False).raw
        torch.testing.assert_close(refs.ref_contribution_map(acts, grads), raw)
    for model, layer, x, a, b in _draws(excam.CONTRAST_GRADIENT):
        torch.testing.assert_close(refs.ref_contrast_gradient(model, layer, x, a, b),
                                   cam_engine.layer_pass(model, layer, x, a)[0].grads
                                   - cam_engine.layer_pass(model, layer, x, b)[0].grads)


def test_find_cam_layer_reference_has_the_gap_property_and_is_alone():
    for model, x, candidates in _draws(excam.FIND_CAM_LAYER, n=3):
        answer = refs.ref_find_cam_layer(model, x, candidates)
        assert [n for n, m in candidates if excam.feeds_pooling(model, x, m)] == [answer]


def test_attention_references_against_the_text_models():
    for scores, mask in _draws(attention.MASKED_SOFTMAX):
        e = torch.exp(scores - scores.max(-1, keepdim=True).values) * mask  # written out
        torch.testing.assert_close(refs.ref_masked_softmax(scores, mask), e / e.sum(-1, keepdim=True))
    torch.manual_seed(0)
    sa = SelfAttention(d_model=12, n_heads=3).eval()
    x = torch.randn(1, 5, 12)
    with torch.no_grad():
        _, probs = sa(x, torch.ones(1, 5, dtype=torch.bool))  # (1, heads, T, T)
        q, k, _ = sa.qkv(x[0]).chunk(3, dim=-1)
    torch.testing.assert_close(refs.ref_attention_probs(q, k, 3), probs[0])
    for (attn,) in _draws(attention.ROLLOUT):
        torch.testing.assert_close(refs.ref_rollout(attn), attn_trust.attention_rollout(attn))


def test_stored_public_answers_are_up_to_date():
    assert public.main(["--check"]) == 0, "run python -m grader.public"


def test_the_public_answers_check_allows_round_off_and_nothing_more():
    """A number off in its last float32 digits (what another CPU computes) is the same answer; a
    number off by the checks' own tolerance, a changed seed or a missing case is not."""
    import copy
    import json

    fresh = json.loads(public.render(public.public_cases()))
    rollout = fresh["attention.check_rollout"]
    row = rollout["expected"][0]["tensor"][0]
    off = copy.deepcopy(fresh)
    off["attention.check_rollout"]["expected"][0]["tensor"][0] = [v * (1 + 2e-7) + 1e-9 for v in row]
    assert public.agree(off, fresh)
    off["attention.check_rollout"]["expected"][0]["tensor"][0][0] = row[0] + 1e-4
    assert not public.agree(off, fresh)
    seed = copy.deepcopy(fresh)
    seed["attention.check_rollout"]["seed"] += 1
    assert not public.agree(seed, fresh)
    fewer = copy.deepcopy(fresh)
    del fewer["attention.check_rollout"]
    assert not public.agree(fewer, fresh) and not public.agree(fresh, fewer)
    labels = copy.deepcopy(fresh)
    labels["layers.check_first_layer_of_size"]["expected"][1] = "layer4.73"
    assert not public.agree(labels, fresh)


def test_every_exercise_has_a_reference_and_forbidden_functions_resolve():
    assert set(refs.REFERENCES) == set(EXERCISES)
    for check in EXERCISES:
        rules = forbidden.forbidden(check)
        assert ("grader/references.py", refs.REFERENCES[check].__qualname__) in rules.places
    rules = forbidden.forbidden("cam.check_find_cam_layer")
    assert ("helpers/exercises/cam.py", "_ToyNet.forward") not in rules.places  # the input's own
    assert ("helpers/exercises/cam.py", "feeds_pooling") in rules.places
    lib = forbidden.forbidden("cam.check_gradcam_weights").places
    assert ("helpers/cam/weights.py", "grad_cam_weights") in lib
    assert ("helpers/cam/weights.py", "grad_cam_weights") not in forbidden.forbidden(
        "attention.check_masked_softmax").places


def test_code_is_identified_by_file_and_qualname_not_by_name():
    rules = forbidden.forbidden("cam.check_contribution_map")
    mine = compile("def ref_contribution_map(a, g):\n    return a\n", "<ipython-input-1-x>", "exec")
    code = next(c for c in mine.co_consts if isinstance(c, types.CodeType))
    assert rules.why(code) is None
    assert rules.why(refs.ref_contribution_map.__code__) == "grader.references.ref_contribution_map"
    copy = refs.ref_contribution_map.__code__.replace(co_filename="elsewhere.py", co_name="x", co_qualname="x")
    assert "字节码相同" in rules.why(copy)


def test_leaks_are_found_by_code(tmp_path):
    src = (ROOT / "grader" / "references.py").read_text(encoding="utf-8")
    renamed = src.replace("def ref_", "def helper_")  # renamed functions are still references
    assert len(leaks.leaks_in_source(renamed, "x.py")) >= len(refs.REFERENCES)
    assert leaks.leaks_in_source("from grader import references\n", "y.py") == ["y.py: imports grader"]
    assert leaks.leaks_in_source("def f(g):\n    return g.sum()\n", "z.py") == []


def test_the_student_edition_builder_refuses_a_leak(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_student

    nb = nbformat.v4.new_notebook()
    body = "\n".join(ln for ln in __import__("inspect").getsource(refs.ref_gradcam_weights).splitlines())
    nb.cells = [nbformat.v4.new_code_cell(body.replace("ref_", "weights_"))]
    path = tmp_path / "leaky.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(RuntimeError, match="code of ref_gradcam_weights"):
        make_student.build(tmp_path / "out", [path])


def test_a_library_extending_nn_module_is_not_tampering(tiny_bert):
    """transformers adds ``nn.Module.smart_apply`` when it builds a model (notebook 9.3 does):
    the full 9.3 assignment scored 0 on the teacher's own answers before this was allowed."""
    from grader import tamper

    assert hasattr(torch.nn.Module, "smart_apply")  # the fixture built a BERT
    assert tamper.tampered() == []
    saved = torch.nn.Module.__call__
    torch.nn.Module.__call__ = eval("lambda self, *a, **k: None")  # notebook-like code is still caught
    try:
        assert tamper.tampered() == ["torch.nn.Module.__call__"]
    finally:
        torch.nn.Module.__call__ = saved
