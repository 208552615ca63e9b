"""helpers.attribution.rise against its definition, its masks, the toy world and a photo.

The definition (Petsiuk et al. 2018, eq. 6) is computed here independently, one
mask and one image at a time: ``S(p) = sum_i f_c(x * M_i) M_i(p) / (count * E[M])``,
with ``E[M]`` the mean of the masks used (the paper writes ``p``, its expectation).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.attribution import rise
from helpers.attribution.rise import mask_grids, upsample_masks
from helpers.hooks import count_hooks
from helpers.toy import nets
from helpers.toy import world as shapes


def _definition(model: nn.Module, x: torch.Tensor, c: int, masks: torch.Tensor,
                score: str = "softmax", ref: float = 0.0) -> torch.Tensor:
    """RISE of one image ``(3, H, W)`` for class ``c``, mask by mask. Returns ``(H, W)``."""
    total = torch.zeros(masks.shape[1:], dtype=torch.float64)
    with torch.no_grad():
        for m in masks:
            out = model((ref + m * (x - ref))[None])[0]
            f = out.softmax(dim=0)[c] if score == "softmax" else out[c]
            total += float(f) * m.double()
    return total / (len(masks) * masks.double().mean())


@pytest.fixture
def hand_net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3)).eval()


@pytest.mark.parametrize("score", ["softmax", "logit"])
def test_equals_the_definition_with_fixed_masks(hand_net, score):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, generator=g)
    masks = torch.rand(5, 4, 4, generator=g)  # soft masks, as upsampling makes them
    masks[0] = (masks[0] > 0.5).float()  # and one binary one
    res = rise(hand_net, x, [2, 0], masks=masks, score=score, batch_size=3)
    for i, c in enumerate([2, 0]):
        expected = _definition(hand_net, x[i], c, masks, score)
        for ch in range(3):
            torch.testing.assert_close(res.raw[i, ch].double(), expected, rtol=1e-5, atol=1e-7)
    assert res.info["masks"] == 5 and res.class_idx == [2, 0]
    assert res.info["mask_mean"] == pytest.approx(float(masks.mean()))


def test_hidden_pixels_take_the_networks_mean_input():
    seen = []

    class Recorder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nets.Normalize()
            self.fc = nn.Linear(3 * 2 * 2, 2)

        def forward(self, x):
            seen.append(x.clone())
            return self.fc(self.norm(x).flatten(1))

    x = torch.rand(1, 3, 2, 2, generator=torch.Generator().manual_seed(1))
    masks = torch.tensor([[[1.0, 0.0], [0.25, 1.0]]])
    rise(Recorder().eval(), x, 0, masks=masks)
    expected = 0.5 + masks[0] * (x - 0.5)  # Normalize's mean is the reference
    torch.testing.assert_close(seen[-1], expected)


def test_masks_are_seeded_soft_shifted_and_keep_p():
    grids, shifts = mask_grids(2000, cells=7, p=0.3, seed=5)
    masks = upsample_masks(grids, shifts, (40, 40))
    assert masks.shape == (2000, 40, 40) and masks.min() >= 0 and masks.max() <= 1
    assert abs(float(masks.mean()) - 0.3) < 0.01  # bilinear upsampling keeps the mean
    assert ((masks > 0) & (masks < 1)).any()  # soft edges
    assert len({tuple(s) for s in (shifts * 6).long().tolist()}) > 30  # shifts vary (cell 6 px)
    again = upsample_masks(*mask_grids(2000, cells=7, p=0.3, seed=5), (40, 40))
    assert torch.equal(masks, again)
    assert not torch.equal(masks, upsample_masks(*mask_grids(2000, 7, 0.3, seed=6), (40, 40)))
    ones = upsample_masks(*mask_grids(3, cells=4, p=1.0), (10, 10))
    torch.testing.assert_close(ones, torch.ones(3, 10, 10))


def test_a_seeded_run_repeats_and_leaves_the_global_rng(tiny_net, tiny_input):
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = rise(tiny_net, tiny_input, 1, count=20, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    b = rise(tiny_net, tiny_input, 1, count=20, seed=4, batch_size=7)
    torch.testing.assert_close(a.raw, b.raw)
    assert a.info["masks"] == 20 and a.info["cells"] == 7 and a.info["p"] == 0.5


def test_toy_world_map_is_higher_on_the_shape():
    net = nets.load_net("gap")
    batch = shapes.make_batch(3, seed=3)
    res = rise(net, batch.images, batch.labels[:, 0].tolist(), count=300, seed=0)
    for i in range(3):
        inside = batch.masks[i, 0].numpy().astype(bool)
        s = res.raw[i, 0].numpy()
        print(f"image {i}: mean saliency on the shape {s[inside].mean():.3f}, "
              f"off it {s[~inside].mean():.3f}")
        assert s[inside].mean() > s[~inside].mean()


def test_photo_on_the_bundled_model_equals_the_definition(bundle):
    from helpers import load_image

    x = bundle.to_input(load_image("cat"))  # (1, 3, 224, 224)
    masks = upsample_masks(*mask_grids(6, cells=7, p=0.5, seed=2), (224, 224))
    res = rise(bundle.model, x, None, masks=masks, batch_size=4)
    expected = _definition(bundle.model, x[0], res.class_idx, masks)
    torch.testing.assert_close(res.raw[0].double(), expected, rtol=1e-4, atol=1e-6)  # (3, H, W)
    assert count_hooks(bundle.model) == 0 and res.map.shape == (224, 224)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(count=0), ValueError, "count must be an integer >= 1"),
    (dict(p=0.0), ValueError, "probability of keeping"),
    (dict(cells=0), ValueError, "cells must be"),
    (dict(masks=torch.ones(2, 5, 5)), ValueError, r"masks must be a tensor \(M, 32, 32\)"),
    (dict(score="prob"), ValueError, "unknown score"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_bad_arguments(tiny_net, tiny_input, kwargs, error, words):
    with pytest.raises(error, match=words):
        rise(tiny_net, tiny_input, 1, **kwargs)
    with pytest.raises(IndexError, match="out of range"):
        rise(tiny_net, tiny_input, 9, count=2)
    assert np.isfinite(rise(tiny_net, tiny_input, 1, count=2).map).all()
