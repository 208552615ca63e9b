"""Deletion / insertion curves, Average Drop and baselines: hand-computed cases and torchcam."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from torch import nn
from torchcam.metrics import ClassificationMetric, DeletionInsertionMetric

from helpers.trust import faithfulness as fa

# ------------------------------------- a model that is a known function of the pixels ---

WEIGHTS = torch.tensor([[0.4, 0.1], [0.2, 0.3]])  # per-pixel weights of a 2 x 2 image, sum 1


class LinearProb(nn.Module):
    """p(class 0) = sum_pixels w * (channel mean of x), exactly: logits = (log p, log(1 - p))."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("w", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = (x.mean(dim=1) * self.w).sum(dim=(1, 2)).clamp(1e-12, 1 - 1e-12)  # (N,)
        return torch.stack([p.log(), (1 - p).log()], dim=1)  # softmax = (p, 1 - p)


# All-ones image, zero substrate, 4 steps of one pixel each (fractions 0, .25, .5, .75, 1).
# Perfect order (.4, .3, .2, .1): deletion p = 1, .6, .3, .1, 0 -> AUC = .25 * 1.5 = .375
# Reversed order (.1, .2, .3, .4): deletion p = 1, .9, .7, .4, 0 -> AUC = .25 * 2.5 = .625
HAND = {("deletion", "perfect"): ([1, .6, .3, .1, 0], .375),
        ("deletion", "reversed"): ([1, .9, .7, .4, 0], .625),
        ("insertion", "perfect"): ([0, .4, .7, .9, 1], .625),
        ("insertion", "reversed"): ([0, .1, .3, .6, 1], .375)}


@pytest.mark.parametrize("batch_size", [1, 2, 32])
@pytest.mark.parametrize("kind,order", list(HAND))
def test_perfect_and_reversed_ranking_match_the_hand_computed_curves(kind, order, batch_size):
    model, x = LinearProb(WEIGHTS), torch.ones(1, 3, 2, 2)
    sal = WEIGHTS if order == "perfect" else -WEIGHTS
    curve = fa.perturbation_curve(model, x, sal, kind, class_idx=0, steps=4, substrate="zeros",
                                  batch_size=batch_size)
    probs, area = HAND[kind, order]
    np.testing.assert_allclose(curve.fractions, [0, .25, .5, .75, 1])
    np.testing.assert_allclose(curve.probs, probs, atol=1e-6)
    assert curve.auc == pytest.approx(area, abs=1e-6)
    assert curve.kind == kind and curve.class_idx == 0


def test_perfect_ranking_deletes_faster_than_reversed_and_random():
    w = torch.rand(8, 8, generator=torch.Generator().manual_seed(3))
    model, x = LinearProb(w), torch.ones(1, 3, 8, 8)
    model.w /= model.w.sum()
    best = fa.deletion_curve(model, x, model.w, class_idx=0, steps=16).auc
    worst = fa.deletion_curve(model, x, -model.w, class_idx=0, steps=16).auc
    rand = fa.deletion_curve(model, x, fa.random_map((8, 8), seed=0), class_idx=0, steps=16).auc
    assert best < rand < worst


def test_trapezoid_auc_by_hand():
    assert fa.auc([0, .5, 1], [1, 0, 0]) == pytest.approx(.25)
    assert fa.auc([0, .25, 1], [0, 1, 1]) == pytest.approx(.125 + .75)


# ------------------------------------------------------------------ torchcam as the peer ---


class FixedMapExtractor:
    """The interface torchcam's metrics call, returning a fixed map for every input."""

    def __init__(self, model: nn.Module, cams: torch.Tensor) -> None:
        self.model, self.cams = model, cams

    def __call__(self, class_idx=None, scores=None, normalized=True, **kw):
        return [self.cams]

    def fuse_cams(self, cams):
        return cams[0]

    @contextlib.contextmanager
    def _hooks_off(self):
        yield


def test_deletion_and_insertion_auc_agree_with_torchcam(tiny_net, tiny_input):
    # 32 x 32 = 1024 pixels in 16 steps of 64: torchcam's steps and ours coincide.
    sal = torch.from_numpy(fa.random_map((32, 32), seed=5))
    sal[:8, :8] = 0.0  # ties: both rank them in row-major order
    metric = DeletionInsertionMetric(FixedMapExtractor(tiny_net, sal[None]),
                                     lambda z: z.softmax(dim=-1), steps=16, batch_size=7)
    metric.update(tiny_input)
    peer = metric.summary()
    dele = fa.deletion_curve(tiny_net, tiny_input, sal, steps=16, substrate="zeros", batch_size=5)
    ins = fa.insertion_curve(tiny_net, tiny_input, sal, steps=16, substrate="zeros")
    assert dele.auc == pytest.approx(peer["deletion_auc"], abs=1e-5)
    assert ins.auc == pytest.approx(peer["insertion_auc"], abs=1e-5)


def test_average_drop_and_increase_agree_with_torchcam(tiny_net):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(6, 3, 32, 32, generator=g)
    maps = torch.rand(6, 32, 32, generator=g)
    maps[3:] += 1.0  # brighter inputs: here the confidence rises, so both terms are tested
    metric = ClassificationMetric(FixedMapExtractor(tiny_net, maps), lambda z: z.softmax(dim=-1))
    metric.update(x)
    peer = metric.summary()
    ours = fa.confidence_change(tiny_net, x, maps)
    assert ours["avg_drop"] == pytest.approx(peer["avg_drop"], abs=1e-5)
    assert ours["increase"] == pytest.approx(peer["conf_increase"], abs=1e-9)
    assert 0 < ours["increase"] < 1 and ours["avg_drop"] > 0


# -------------------------------------------------------------- substrates and baselines ---


def test_blur_matches_torchvision():
    x = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(2))
    ours = fa.gaussian_blur(x, 11, 5.0)
    peer = TF.gaussian_blur(x, [11, 11], [5.0, 5.0])  # reflect padding as well
    torch.testing.assert_close(ours, peer, atol=1e-5, rtol=1e-5)


def test_substrates_by_hand():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(1, 3, 4, 8)[:1]
    assert torch.equal(fa.make_substrate(x, "zeros"), torch.zeros_like(x))
    mean = fa.make_substrate(x, "mean")
    torch.testing.assert_close(mean[0, :, 2, 5], x[0].reshape(3, -1).mean(dim=1))
    grey = fa.make_substrate(x, torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1))
    assert grey.shape == x.shape and float(grey[0, 2, 3, 3]) == 3.0


def test_sobel_map_of_a_vertical_edge():
    x = torch.zeros(1, 3, 6, 8)
    x[..., 4:] = 1.0  # a step between columns 3 and 4
    m = fa.sobel_map(x)
    # |Kx * g| = 4 on columns 3 and 4 (the kernel straddles the step), 0 elsewhere; Ky = 0.
    expected = np.zeros((6, 8), dtype=np.float32)
    expected[:, 3:5] = 1.0
    np.testing.assert_allclose(m, expected)


def test_random_map_is_seeded():
    a, b = fa.random_map((5, 7), seed=1), fa.random_map((5, 7), seed=2)
    assert a.shape == (5, 7) and 0 <= a.min() and a.max() < 1
    np.testing.assert_array_equal(a, fa.random_map((5, 7), seed=1))
    assert not np.array_equal(a, b)


# ------------------------------------------------------------------------- bad input ---


def test_bad_input_gets_clear_errors():
    model, x = LinearProb(WEIGHTS), torch.ones(1, 3, 2, 2)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        fa.deletion_curve(model, x, WEIGHTS, steps=0)
    with pytest.raises(ValueError, match="not match the image"):
        fa.deletion_curve(model, x, torch.ones(3, 3), steps=4)
    with pytest.raises(ValueError, match="one image"):
        fa.deletion_curve(model, torch.ones(2, 3, 2, 2), WEIGHTS, steps=4)
    with pytest.raises(ValueError, match="unknown substrate"):
        fa.deletion_curve(model, x, WEIGHTS, substrate="gray")
    with pytest.raises(ValueError, match="does not fit"):
        fa.deletion_curve(model, x, WEIGHTS, substrate=torch.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match="NaN"):
        fa.deletion_curve(model, x, torch.tensor([[np.nan, 0], [0, 0]]))
    with pytest.raises(ValueError, match="kind must be"):
        fa.perturbation_curve(model, x, WEIGHTS, "erase")
    with pytest.raises(ValueError, match="at least two points"):
        fa.auc([0.0], [1.0])
    with pytest.raises(ValueError, match="shape"):
        fa.confidence_change(model, x, torch.ones(2, 2, 2))  # two maps for one image


@pytest.mark.parametrize("kind,default", [("deletion", "zeros"), ("insertion", "blur")])
def test_each_kind_starts_from_rises_substrate_for_one_image_and_for_n(kind, default, tiny_net,
                                                                       tiny_input):
    """``deletion_curve``/``insertion_curve`` and ``metric.deletion``/``insertion`` are one
    construction per kind: each defaults to RISE's substrate, given here as a tensor."""
    from helpers.trust import metric

    sal = torch.from_numpy(fa.random_map((32, 32), seed=3))
    base = torch.zeros_like(tiny_input) if default == "zeros" else fa.gaussian_blur(tiny_input)
    want = fa.perturbation_curve(tiny_net, tiny_input, sal, kind, steps=8, substrate=base)
    one = getattr(fa, f"{kind}_curve")(tiny_net, tiny_input, sal, steps=8)
    many = getattr(metric, kind)(tiny_net, tiny_input, sal[None], steps=8)
    np.testing.assert_allclose(one.probs, want.probs, atol=1e-6)
    assert (one.kind, one.auc) == (kind, pytest.approx(want.auc))
    assert (many.name, many.values[0]) == (kind, pytest.approx(want.auc))
    assert many.higher_is_better == (kind == "insertion")
