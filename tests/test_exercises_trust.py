"""Exercise checks of 9.4: right answers pass; stubs, constants and common bugs fail."""

from __future__ import annotations

import numpy as np
import torch

from check_helpers import assert_rejects, run
from helpers.exercises import trust as ex


def deletion_probs(model, x, saliency, class_idx, steps, descending=True, softmax=True):
    """A deletion curve written out pixel by pixel, without helpers.trust.faithfulness."""
    h, w = saliency.shape
    order = np.argsort(-saliency.numpy().ravel() if descending else saliency.numpy().ravel(),
                       kind="stable")
    probs = []
    for k in range(steps + 1):
        xk = x.clone().view(1, 3, -1)
        xk[..., order[: k * h * w // steps]] = 0.0
        with torch.no_grad():
            out = model(xk.view_as(x))
        probs.append(float((out.softmax(1) if softmax else out)[0, class_idx]))
    return np.linspace(0, 1, steps + 1), np.array(probs)


def test_deletion_auc(capsys):
    def right(*args):
        return float(np.trapezoid(*deletion_probs(*args)[::-1]))

    ok, out = run(ex.check_deletion_auc, right, capsys)
    assert ok and "✓" in out
    assert_rejects(ex.check_deletion_auc, [
        lambda *a: float(np.mean(deletion_probs(*a)[1])),  # mean instead of the trapezoid
        lambda *a: float(np.trapezoid(*deletion_probs(*a, descending=False)[::-1])),  # reversed
        lambda *a: float(np.trapezoid(*deletion_probs(*a, softmax=False)[::-1])),  # logits
        lambda *a: 0.5,
    ], capsys)


def hit(cam, mask, tol):
    i, j = np.unravel_index(cam.argmax(), cam.shape)
    rr, cc = np.nonzero(mask)
    return bool((((rr - i) ** 2 + (cc - j) ** 2) <= tol**2).any())


def test_pointing_hit(capsys):
    ok, out = run(ex.check_pointing_hit, hit, capsys)
    assert ok and "✓" in out

    def square(cam, mask, tol):  # Chebyshev distance: a square, not a disk
        i, j = np.unravel_index(cam.argmax(), cam.shape)
        return bool(mask[max(0, i - tol):i + tol + 1, max(0, j - tol):j + tol + 1].any())

    assert_rejects(ex.check_pointing_hit, [
        square,
        lambda c, m, t: hit(c, m, 0),  # ignores the tolerance
        lambda c, m, t: hit(c, m, t + 1),  # off by one
        lambda c, m, t: True,
    ], capsys)


def test_sanity_prediction_follows_the_measured_curves(capsys):
    curves = {"grad_cam": [0.4, 0.1, 0.0], "guided_backprop": [0.99, 0.9, 0.3],
              "saliency": [np.nan, 0.7, 0.6]}
    right = {"grad_cam": "变", "guided_backprop": "不变", "saliency": "变"}.get
    ok, out = run(ex.check_sanity_prediction, right, capsys, curves)
    assert ok and "✓" in out
    assert_rejects(ex.check_sanity_prediction, [
        lambda m: "变",
        lambda m: "不变",
        lambda m: "maybe",
        {"grad_cam": "不变", "guided_backprop": "变", "saliency": "变"}.get,
    ], capsys, curves)
    # The same prediction is wrong when the measurement says otherwise ...
    flipped = dict(curves, guided_backprop=[0.3, 0.2, 0.2])
    ok, out = run(ex.check_sanity_prediction, right, capsys, flipped)
    assert not ok and "guided_backprop" in out
    # ... or when another step or threshold is asked about.
    assert not run(ex.check_sanity_prediction, right, capsys, curves, 2)[0]
    assert run(ex.check_sanity_prediction, {"saliency": "不变"}.get, capsys,
               {"saliency": curves["saliency"]}, 1, 0.5)[0]
