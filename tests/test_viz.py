"""helpers.viz: normalization, colormaps, upsampling, overlays, grids and the CJK font."""

from __future__ import annotations

import io
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import viz


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


def test_colorize_is_rgb_of_matplotlib_colormap():
    m = np.array([[0.0, 0.5], [0.75, 1.0]])
    expected = matplotlib.colormaps["jet"](m)[..., :3]
    np.testing.assert_allclose(viz.colorize(m), expected, atol=1e-6)
    assert viz.colorize(m).shape == (2, 2, 3)
    with pytest.raises(ValueError, match="colormap"):
        viz.colorize(m, "no-such-map")


def test_upsample_uses_w_h_order_and_bicubic():
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = viz.upsample(m, (8, 6))  # (w, h)
    assert out.shape == (6, 8)
    ref = np.asarray(Image.fromarray(m).resize((8, 6), Image.Resampling.BICUBIC))
    np.testing.assert_allclose(out, np.clip(ref, 0, 11))
    np.testing.assert_allclose(viz.upsample(np.ones((2, 2)), (5, 7)), 1.0)


def test_overlay_alpha_extremes():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (10, 14, 3), dtype=np.uint8))
    m = rng.random((5, 7)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(viz.overlay(img, m, alpha=1.0)), np.asarray(img))
    heat = viz.colorize(viz.upsample(m, img.size))
    np.testing.assert_allclose(np.asarray(viz.overlay(img, m, alpha=0.0)) / 255, heat, atol=1 / 255)
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(img, m, alpha=1.5)


def test_show_channel_relu_and_square():
    a = np.array([[-1.0, 0.0], [1.0, 2.0]])
    # ReLU -> [0,0,1,2], normalize -> [0,0,.5,1], square -> [0,0,.25,1]
    expected = matplotlib.colormaps["jet"](np.array([[0, 0], [0.25, 1.0]]))[..., :3]
    np.testing.assert_allclose(viz.show_channel(a), expected, atol=1e-6)


def test_channel_grid_layout_and_bounds():
    acts = torch.randn(1, 20, 4, 5)
    grid = viz.channel_grid(acts, channels=[0, 3, 19], ncols=2)
    assert grid.shape == (2 * 5 - 1, 2 * 6 - 1, 3)
    np.testing.assert_allclose(grid[5:9, 0:5], viz.show_channel(acts[0, 19]))
    with pytest.raises(IndexError, match=r"\[0, 19\]"):
        viz.channel_grid(acts, channels=[20])


def test_chinese_text_renders_without_missing_glyphs():
    import matplotlib.pyplot as plt

    family = viz.setup_cjk_font()
    assert family
    fig, ax = plt.subplots()
    ax.set_title("面向解释的深度神经网络可视化 −1")
    ax.text(0.5, 0.5, "努力 实现 中华 民族 的 伟大 复兴")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" is a UserWarning
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
