"""helpers.draw.viz: normalization, colormaps, upsampling, overlays, grids and the CJK font."""

from __future__ import annotations

import io
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from helpers.draw import fonts
from helpers.draw import viz


def test_normalize_flat_map_is_finite_zero():
    out = viz.normalize(np.full((4, 5), 3.0))
    assert np.isfinite(out).all() and (out == 0).all()


def test_normalize_range_and_order():
    m = torch.tensor([[-2.0, 0.0], [2.0, 6.0]])
    out = viz.normalize(m)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0.25], [0.5, 1.0]])


def test_normalize_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        viz.normalize(np.array([[np.nan, 1.0]]))


def test_upsample_uses_w_h_order_and_bicubic():
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = viz.upsample(m, (8, 6))  # (w, h)
    assert out.shape == (6, 8)
    ref = np.asarray(Image.fromarray(m).resize((8, 6), Image.Resampling.BICUBIC))
    np.testing.assert_allclose(out, np.clip(ref, 0, 11))
    np.testing.assert_allclose(viz.upsample(np.ones((2, 2)), (5, 7)), 1.0)


def test_overlay_is_the_books_blend_computed_by_hand():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (10, 14, 3), dtype=np.uint8))
    m = rng.random((5, 7)).astype(np.float32) * 3 - 1
    np.testing.assert_array_equal(np.asarray(viz.overlay(img, m, alpha=1.0)), np.asarray(img))
    # The book's order: min-max at the map's resolution, resize (PIL, bicubic), colormap.
    scaled = ((m - m.min()) / (m.max() - m.min())).astype(np.float32)
    big = np.clip(np.asarray(Image.fromarray(scaled).resize(img.size, Image.Resampling.BICUBIC)), 0, 1)
    heat = matplotlib.colormaps["jet"](big)[..., :3] * 255  # (10, 14, 3)
    for alpha in (0.0, 0.6):
        expected = alpha * np.asarray(img, dtype=np.float64) + (1 - alpha) * heat
        got = np.asarray(viz.overlay(img, m, alpha=alpha), dtype=np.float64)
        assert np.abs(got - expected).max() <= 0.5 + 1e-3  # only the rounding to 8 bits
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(img, m, alpha=1.5)


def test_show_channel_relu_and_square():
    a = np.array([[-1.0, 0.0], [1.0, 2.0]])
    # ReLU -> [0,0,1,2], normalize -> [0,0,.5,1], square -> [0,0,.25,1]
    expected = matplotlib.colormaps["jet"](np.array([[0, 0], [0.25, 1.0]]))[..., :3]
    np.testing.assert_allclose(viz.show_channel(a), expected, atol=1e-6)


def test_channel_grid_layout_and_bounds():
    acts = torch.randn(1, 20, 4, 5, generator=torch.Generator().manual_seed(0))
    grid = viz.channel_grid(acts, channels=[0, 3, 19], ncols=2)
    assert grid.shape == (2 * 5 - 1, 2 * 6 - 1, 3) and grid.dtype == np.uint8
    assert (grid[4, :] == 255).all() and (grid[:, 5] == 255).all()  # white gaps
    assert (grid[5:9, 6:11] == 255).all()  # the empty fourth tile
    a = np.maximum(acts[0, 19].numpy(), 0)
    expected = matplotlib.colormaps["jet"](((a - a.min()) / (a.max() - a.min())) ** 2)[..., :3] * 255
    assert np.abs(grid[5:9, 0:5] - expected).max() <= 0.5 + 1e-3
    with pytest.raises(IndexError, match=r"\[0, 19\]"):
        viz.channel_grid(acts, channels=[20])


def test_chinese_text_renders_without_missing_glyphs():
    import matplotlib.pyplot as plt

    family = fonts.setup_cjk_font()
    assert family
    fig, ax = plt.subplots()
    ax.set_title("面向解释的深度神经网络可视化 −1")
    ax.text(0.5, 0.5, "努力 实现 中华 民族 的 伟大 复兴")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" is a UserWarning
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def test_colormap_lut_rows_are_matplotlibs_colours():
    m = np.random.default_rng(1).random(1000)
    m[:3] = (0.0, 1.0, 255 / 256)  # both ends and the last row's edge
    for name in ("jet", "viridis", "Blues"):
        expected = matplotlib.colormaps[name](m)[..., :3] * 255
        np.testing.assert_allclose(viz.colormap_lut(name)[viz.colour_index(m)], expected, atol=1e-4)
    assert not viz.colormap_lut("jet").flags.writeable  # shared: nobody may change it
    with pytest.raises(ValueError, match="colormap"):
        viz.colormap_lut("no-such-map")


def test_prepare_maps_scales_each_channel_like_showimg():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(4, 5, 6)).astype(np.float32)
    acts[2] = -1.0  # dead: flat after ReLU
    out = viz.prepare_maps(acts)
    for k in (0, 1, 3):
        a = np.maximum(acts[k], 0)
        np.testing.assert_allclose(out[k], ((a - a.min()) / (a.max() - a.min())) ** 2, atol=1e-6)
    assert (out[2] == 0).all()


def test_blend_and_frame_by_hand():
    photo = np.full((4, 6, 3), 100, dtype=np.uint8)
    idx = np.full((4, 6), 255, dtype=np.uint8)  # jet's last row: (127.5, 0, 0)
    out = viz.blend(photo, idx, 0.25)
    np.testing.assert_array_equal(out[0, 0], [int(25 + 0.75 * 127.5 + 0.5), 25, 25])
    with pytest.raises(ValueError, match="alpha"):
        viz.blend(photo, idx, -0.1)
    pixels = np.zeros((8, 8, 3), dtype=np.uint8)
    viz.draw_frame(pixels, (1, 2, 7, 8))
    inside = np.zeros((8, 8), dtype=bool)
    inside[2:8, 1:7] = True
    inside[4:6, 3:5] = False  # left inside the 2-pixel frame
    assert ((pixels[..., 0] == 255) == inside).all()
