"""The one result type, the one upsampling, and the receptive-field offset, by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.cam.erf import erf_offset
from helpers.explanation import Explanation, upsampled


def test_upsampled_is_bilinear_then_min_max():
    m = torch.rand(2, 7, 7, generator=torch.Generator().manual_seed(0))
    up = F.interpolate(m[:, None], size=(224, 160), mode="bilinear", align_corners=False)[:, 0]
    lo, hi = up.amin(dim=(1, 2), keepdim=True), up.amax(dim=(1, 2), keepdim=True)
    np.testing.assert_allclose(upsampled(m, (224, 160)), ((up - lo) / (hi - lo)).numpy(),
                               atol=1e-6)
    assert upsampled(torch.zeros(1, 3, 3), (8, 8)).max() == 0  # a flat map: zeros, no NaN
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        upsampled(torch.zeros(3, 3), (8, 8))


def test_a_shift_moves_the_drawing_by_whole_pixels():
    """Shifted by (4, -6) px, pixel (y, x) shows what (y - 4, x + 6) showed, away from edges."""
    m = torch.rand(1, 7, 7, generator=torch.Generator().manual_seed(1))
    a = torch.as_tensor(upsampled(m, (224, 224)))[0]
    b = torch.as_tensor(upsampled(m, (224, 224), shift=(4.0, -6.0)))[0]
    # both are min-max scaled; compare after rescaling the shifted interior to the original
    inner_b, inner_a = b[40:180, 40:180], a[36:176, 46:186]
    scale = (inner_a.max() - inner_a.min()) / (inner_b.max() - inner_b.min())
    torch.testing.assert_close((inner_b - inner_b.min()) * scale + inner_a.min(), inner_a,
                               atol=1e-4, rtol=0)


def test_result_indexing_keeps_the_batch_axis():
    maps = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    res = Explanation(maps, torch.zeros(3, 2, 2), [1, None, 2], "m",
                      {"weights": torch.arange(6.).view(3, 2)}, {"reduction": "x"})
    one = res[-1]
    assert len(res) == 3 and one.maps.shape == (1, 4, 4) and one.targets == [2]
    assert one.cam.shape == (4, 4) and one.class_idx == 2 and torch.equal(one.weights,
                                                                          torch.tensor([4., 5.]))
    assert res.class_idx == [1, None, 2] and res.cam.shape == (3, 4, 4)  # not single: batched
    assert one.info["reduction"] == "x" and torch.equal(one.info["weights"], one.weights)
    with pytest.raises(IndexError):
        res[3]


def test_erf_offset_of_a_stride_two_convolution_without_padding():
    """Cells of Conv2d(k=3, s=2) on 8 px see pixels 2i..2i+2 (centre 2i + 1.5) but are drawn
    at (i + 0.5) * 8 / 3: the offsets are 1/6, -1/2, -7/6, mean -1/2 px on each axis."""
    conv = nn.Conv2d(3, 2, 3, stride=2, bias=False)
    nn.init.constant_(conv.weight, 1.0)  # |gradient| uniform over the window
    model = nn.Sequential(conv).eval()
    dy, dx = erf_offset(model, "0", size=8, samples=2)
    assert dy == pytest.approx(-0.5, abs=1e-5) and dx == pytest.approx(-0.5, abs=1e-5)
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
