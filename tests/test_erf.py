"""erf_centres, erf_offset, drawing_shift on networks whose offsets are known by construction.

Every network here is linear with constant (or one-hot) kernels, so the gradient of a
cell is its receptive window itself and the window's centre is computed by hand.
Pixel ``p`` has its centre at ``p + 0.5``; cell ``i`` of an ``h``-cell map on ``H``
pixels is drawn at ``(i + 0.5) H / h``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.cam.erf import drawing_shift, erf_centres, erf_offset
from helpers.explanation import upsampled
from helpers.models.lite0 import Conv2dSame


def constant(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.constant_(conv.weight, 1.0)
    return conv


def tf_same(k: int = 3) -> nn.Conv2d:
    """TensorFlow "SAME", stride 2: on an even input the odd padding pixel goes after."""
    return constant(Conv2dSame(1, 1, k, 2))


def torch_same(k: int = 3) -> nn.Conv2d:
    """PyTorch's symmetric padding (k - 1) / 2 at stride 2, as torchvision's ResNet."""
    return constant(nn.Conv2d(1, 1, k, stride=2, padding=k // 2, bias=False))


class Grey(nn.Module):
    """Three input channels summed into one, so the probes can be (N, 3, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1, keepdim=True)


def test_tf_same_stride_two_conv_per_cell():
    """8 px, k=3, s=2, pad (0, 1): cell i sees rows 2i..2i+2 (centre 2i + 1.5, drawn 2i + 1):
    +0.5; the last cell's third row is padding, so it sees rows 6, 7 (centre 7.0 = drawn)."""
    model = nn.Sequential(Grey(), tf_same()).eval()
    c = erf_centres(model, "1", torch.rand(2, 3, 8, 8))  # (2 probes, 4, 4, 2)
    want = torch.tensor([0.5, 0.5, 0.5, 0.0], dtype=torch.float64).expand(2, 4)
    assert torch.allclose(c[:, :, 0, 0], want, atol=1e-9)  # dy down the first column
    assert torch.allclose(c[:, 0, :, 1], want, atol=1e-9)  # dx along the first row
    assert erf_offset(model, "1", size=8) == pytest.approx((0.375, 0.375), abs=1e-9)


def test_symmetric_padding_stride_two_conv_per_cell():
    """Pad (1, 1): cell i sees rows 2i-1..2i+1 (centre 2i + 0.5): -0.5; cell 0's first row is
    padding, so it sees rows 0, 1 (centre 1.0 = drawn)."""
    model = nn.Sequential(Grey(), torch_same()).eval()
    c = erf_centres(model, "1", torch.rand(2, 3, 8, 8))
    want = torch.tensor([0.0, -0.5, -0.5, -0.5], dtype=torch.float64).expand(2, 4)
    assert torch.allclose(c[:, :, 2, 0], want, atol=1e-9)
    assert torch.allclose(c[:, 2, :, 1], want, atol=1e-9)
    assert erf_offset(model, "1", size=8) == pytest.approx((-0.375, -0.375), abs=1e-9)


@pytest.mark.parametrize("make, sign", [(tf_same, 1.0), (torch_same, -1.0)])
def test_five_stride_two_convs_add_up_to_15_5_px(make, sign):
    """Five k=3, s=2 convs (the stride-2 stages of ResNet18 and EfficientNet-Lite0) on 128 px:
    the offsets of the stages add, 0.5 * (1 + 2 + 4 + 8 + 16) = 15.5 px, down-right for
    TensorFlow's padding and up-left for PyTorch's. Cells 1 and 2 of the 4x4 map have their
    63-pixel window inside the image."""
    model = nn.Sequential(Grey(), *[make() for _ in range(5)]).eval()
    inner = [(1, 1), (1, 2), (2, 1), (2, 2)]
    dy, dx = erf_offset(model, "5", size=128, samples=1, cells=inner)
    assert (dy, dx) == pytest.approx((sign * 15.5, sign * 15.5), abs=1e-6)


def test_translation_and_dead_cells():
    """A one-hot 3x3 kernel at (0, 2) with padding 1: out(i, j) = x(i - 1, j + 1), so every
    cell looks one pixel up and one right; the cells that read the zero padding depend on
    no pixel (NaN) and the mean skips them."""
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 2] = 1.0
    model = nn.Sequential(Grey(), conv).eval()
    c = erf_centres(model, "1", torch.rand(1, 3, 6, 6))[0]  # (6, 6, 2)
    assert c[0].isnan().all() and c[:, -1].isnan().all()  # top row, right column: padding
    inner = c[1:, :-1].reshape(-1, 2)
    assert torch.allclose(inner, torch.tensor([-1.0, 1.0], dtype=torch.float64).expand_as(inner))
    assert erf_offset(model, "1", size=6) == pytest.approx((-1.0, 1.0), abs=1e-9)


def test_output_is_taken_before_an_in_place_relu():
    """conv(-1) on positive inputs is negative everywhere; an in-place ReLU after it zeroes the
    stored output (and its gradient) unless the output is kept before it: the offsets must equal
    those of the same conv without the ReLU."""
    conv = nn.Conv2d(1, 1, 3, stride=2, bias=False)
    nn.init.constant_(conv.weight, -1.0)
    x = torch.rand(2, 3, 9, 9) + 0.1
    with_relu = erf_centres(nn.Sequential(Grey(), conv, nn.ReLU(inplace=True)).eval(), "1", x)
    plain = erf_centres(nn.Sequential(Grey(), conv).eval(), "1", x)
    assert not with_relu.isnan().any() and torch.allclose(with_relu, plain)


def test_nothing_changes_on_the_model_and_bad_input_is_refused():
    model = nn.Sequential(Grey(), tf_same()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    erf_offset(model, "1", size=8, samples=2)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="outside"):
        erf_centres(model, "1", torch.rand(1, 3, 8, 8), cells=[(4, 0)])
    with pytest.raises(ValueError, match="batch"):
        erf_centres(model, "1", torch.rand(3, 8, 8))
    assert not any(m._forward_hooks for m in model.modules())  # removed after the error too


def test_drawing_shift_threshold_and_sign():
    assert drawing_shift((-7.9, 3.0), cell=32) == (0.0, 0.0)  # under a quarter cell (8 px)
    assert drawing_shift((-10.2, 3.0), cell=32) == (-10.2, 3.0)
    assert drawing_shift((1.0, 1.0), cell=32, threshold=0.0) == (1.0, 1.0)
    with pytest.raises(ValueError):
        drawing_shift((0.0, 0.0), cell=0)


def test_a_cell_drawn_with_the_shift_lands_where_it_looks():
    """Read x(i - 6, j + 6), then 4x4 average pooling: cell (i, j) looks at the 4x4 patch
    6 px above and 6 px right of where upsampling draws it. Measure, draw a map that is one
    cell, and find its peak at the centre of that patch."""
    conv = nn.Conv2d(1, 1, 13, padding=6, bias=False)  # a one-hot kernel: a translation
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 12] = 1.0  # reads x(i - 6, j + 6)
    model = nn.Sequential(Grey(), conv, nn.AvgPool2d(4)).eval()
    inner = [(i, j) for i in range(2, 8) for j in range(0, 6)]  # windows inside the 32 px image
    offset = erf_offset(model, "2", size=32, samples=1, cells=inner)
    assert offset == pytest.approx((-6.0, 6.0), abs=1e-9)
    cell_map = torch.zeros(1, 8, 8)
    cell_map[0, 4, 2] = 1.0  # drawn at (18, 10); looks at rows 10..13, columns 14..17: (12, 16)
    plain = upsampled(cell_map, (32, 32))[0]
    up = upsampled(cell_map, (32, 32), shift=drawing_shift(offset, cell=4))[0]
    # the peak's pixels by index (pixel p has its centre at p + 0.5)
    assert np.argwhere(plain == plain.max()).mean(axis=0) + 0.5 == pytest.approx((18.0, 10.0))
    assert np.argwhere(up == up.max()).mean(axis=0) + 0.5 == pytest.approx((12.0, 16.0))


def test_heat_of_takes_the_shift_in_input_pixels():
    """A map at 32 px input drawn in a 64 px box: a shift of (4, -2) input pixels moves the
    drawn cell by (8, -4) box pixels."""
    from helpers.draw.explain import heat_of
    from helpers.explanation import Explanation

    raw = torch.zeros(1, 8, 8)
    raw[0, 3, 4] = 1.0
    res = Explanation(np.zeros((1, 32, 32), np.float32), raw, [0], "m")
    peak = lambda idx: np.argwhere(idx == idx.max()).mean(axis=0)  # noqa: E731
    plain, moved = heat_of(res, (64, 64)), heat_of(res, (64, 64), shift=(4.0, -2.0))
    assert peak(moved) - peak(plain) == pytest.approx((8.0, -4.0))


def test_explorer_draws_the_shift_as_the_figures_do(bundle):
    """With ``shift``, the explorer's picture is overlay_explanation(..., shift=) of the same
    result; on a layer other than the last the shift is not applied."""
    from PIL import Image

    from helpers.draw import explain
    from helpers.widgets import cam_explorer

    shift = (5.0, -9.0)
    ex = cam_explorer(bundle, "rocket", alpha=0.4, shift=shift)
    res, photo = ex.result(ex.class_idx), Image.fromarray(ex.photo.pixels)
    figure = lambda s: np.asarray(explain.overlay_explanation(  # noqa: E731
        photo, res, box=ex.photo.box, alpha=0.4, shift=s))
    assert ex.layer.value == bundle.gradcam_layer_name
    np.testing.assert_array_equal(np.asarray(ex.picture()), figure(shift))
    assert not np.array_equal(figure(shift), figure((0.0, 0.0)))
    ex.layer.value = ex.layer_names[-3]  # an earlier layer: drawn where upsampling puts it
    res = ex.result(ex.class_idx)
    np.testing.assert_array_equal(np.asarray(ex.picture()), figure((0.0, 0.0)))


def test_each_probe_gets_its_own_centre():
    """ReLU -> 3x3 conv of ones (padding 1) -> 8x8 average: one cell. Pixel p reaches as many
    outputs as its 3x3 neighbourhood has inside the image: 2 on the border, 3 inside, per axis.
    Probe 0 is positive everywhere (centre (4, 4) = where the cell is drawn); probe 1 is negative
    on the left half, which its ReLU closes: column weights 0, 0, 0, 0, 3, 3, 3, 2."""
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.constant_(conv.weight, 1.0)
    model = nn.Sequential(Grey(), nn.ReLU(), conv, nn.AvgPool2d(8)).eval()
    x = torch.ones(2, 3, 8, 8)
    x[1, :, :, :4] = -1.0
    c = erf_centres(model, "3", x)  # (2 probes, 1, 1, 2)
    assert c[0, 0, 0].tolist() == pytest.approx([0.0, 0.0], abs=1e-9)
    cols = torch.arange(8, dtype=torch.float64) + 0.5
    weight = torch.tensor([0, 0, 0, 0, 3, 3, 3, 2], dtype=torch.float64)
    want_dx = float((weight * cols).sum() / weight.sum()) - 4.0  # 64.5 / 11 - 4
    assert c[1, 0, 0].tolist() == pytest.approx([0.0, want_dx], abs=1e-9)


def test_probes_in_small_batches_give_the_same_centres():
    """Probes are computed a few at a time (memory); the centres do not depend on the grouping."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2))
    x = torch.randn(5, 3, 32, 32)
    one = erf_centres(net, "2", x, batch_size=5)
    assert torch.allclose(erf_centres(net, "2", x, batch_size=2), one, equal_nan=True, atol=1e-9)
    with pytest.raises(ValueError, match="batch_size"):
        erf_centres(net, "2", x, batch_size=0)
