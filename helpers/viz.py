"""Colormaps, overlays, channel grids and a CJK font for matplotlib.

These functions draw numbers that ``cam``/``hooks``/``text`` computed; they
know nothing about widgets.

Errata fixed here (textbook code of section 9.1):
* ``matplotlib.cm.get_cmap`` was removed in Matplotlib 3.9: use
  ``matplotlib.colormaps[name]``.
* ``cmap(img)[:, :, 1:]`` keeps G, B and alpha; the RGB channels are ``[..., :3]``.
* PIL's ``resize`` takes ``(w, h)``, not ``(h, w)``.

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image

CJK_FONTS = (
    "SimHei", "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Noto Sans SC",
    "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
)

ArrayLike = np.ndarray | torch.Tensor


def to_numpy(m: ArrayLike) -> np.ndarray:
    """A float32 numpy copy of a tensor or array (moved to the CPU, detached)."""
    if isinstance(m, torch.Tensor):
        m = m.detach().float().cpu().numpy()
    return np.asarray(m, dtype=np.float32)


def normalize(m: ArrayLike) -> np.ndarray:
    """Min-max scale to [0, 1]; a flat map becomes all zeros instead of NaN.

    Shapes:
        m: any shape, e.g. ``(h, w)``; returns the same shape, float32.
    """
    a = to_numpy(m)
    if a.size == 0:
        raise ValueError("cannot normalize an empty map")
    if not np.isfinite(a).all():
        raise ValueError("map contains NaN or inf values")
    lo, hi = float(a.min()), float(a.max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)


def colorize(m: ArrayLike, cmap: str = "jet") -> np.ndarray:
    """Colour a 2-D map with a matplotlib colormap.

    The map is min-max normalized first.

    Shapes:
        m: ``(h, w)``; returns ``(h, w, 3)`` float32 RGB in [0, 1].
    """
    a = to_numpy(m)
    if a.ndim != 2:
        raise ValueError(f"colorize expects a 2-D map (h, w), got shape {tuple(a.shape)}")
    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colormap {cmap!r}; try 'jet', 'viridis' or 'inferno'") from None
    return colormap(normalize(a))[..., :3].astype(np.float32)  # RGB, not G, B, A


def upsample(m: ArrayLike, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D map bicubically to ``size = (w, h)`` (PIL order), as the textbook does.

    Bicubic overshoot is clipped to the map's own range.

    Shapes:
        m: ``(h0, w0)``; returns ``(h, w)`` float32.
    """
    a = to_numpy(m)
    if a.ndim != 2:
        raise ValueError(f"upsample expects a 2-D map (h, w), got shape {tuple(a.shape)}")
    w, h = size
    if w < 1 or h < 1:
        raise ValueError(f"size must be positive (w, h), got {size}")
    out = np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    return np.clip(out, a.min(), a.max())


def overlay(
    image: Image.Image, m: ArrayLike, alpha: float = 0.7, cmap: str = "jet"
) -> Image.Image:
    """Lay a coloured map over a photo: ``alpha * photo + (1 - alpha) * heat``.

    ``alpha`` is the photo's weight: 1 gives the photo, 0 the heat map alone;
    the textbook blends 0.7 photo with 0.3 heat.

    Shapes:
        m: ``(h, w)``, any size: upsampled to the photo's ``(W, H)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    photo = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    heat = colorize(upsample(m, image.size), cmap)  # (H, W, 3)
    blend = alpha * photo + (1.0 - alpha) * heat
    return Image.fromarray(np.clip(blend * 255.0 + 0.5, 0, 255).astype(np.uint8))


def show_channel(acts: ArrayLike, cmap: str = "jet", square: bool = True) -> np.ndarray:
    """The textbook's ``showImg``, fixed: ReLU, min-max, optional squaring, colormap.

    Squaring suppresses small values so that the strongest responses stand out.

    Shapes:
        acts: ``(h, w)`` one channel; returns ``(h, w, 3)`` RGB in [0, 1].
    """
    a = np.maximum(to_numpy(acts), 0.0)  # ReLU
    a = normalize(a)
    if square:
        a = a**2
    return colorize(a, cmap)


def channel_grid(
    acts: ArrayLike, channels: list[int] | None = None, ncols: int = 8, cmap: str = "jet"
) -> np.ndarray:
    """Tile several channels, each coloured with :func:`show_channel`, into one image.

    Shapes:
        acts: ``(C, h, w)`` (or ``(1, C, h, w)``); returns ``(rows*(h+1)-1, ncols*(w+1)-1, 3)``.
    """
    a = to_numpy(acts)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"channel_grid expects (C, h, w), got shape {tuple(a.shape)}")
    c, h, w = a.shape
    channels = list(range(min(c, 16))) if channels is None else list(channels)
    bad = [k for k in channels if not (isinstance(k, (int, np.integer)) and 0 <= k < c)]
    if bad or not channels:
        raise IndexError(f"channels must be integers in [0, {c - 1}], got {bad or channels}")
    ncols = max(1, min(ncols, len(channels)))
    nrows = math.ceil(len(channels) / ncols)
    grid = np.ones((nrows * (h + 1) - 1, ncols * (w + 1) - 1, 3), dtype=np.float32)
    for i, k in enumerate(channels):
        r, col = divmod(i, ncols)
        grid[r * (h + 1): r * (h + 1) + h, col * (w + 1): col * (w + 1) + w] = show_channel(a[k], cmap)
    return grid


def bundled_cjk_font_path() -> Path | None:
    """Noto Sans SC from the pip wheel ``pylopdf-fonts-zh-cn`` (SIL OFL), if installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
    return path if path.is_file() else None


def setup_cjk_font() -> str:
    """Make matplotlib render Chinese: an installed CJK font first, else the pip-shipped one.

    Returns:
        The family name now first in ``font.sans-serif``.

    Raises:
        RuntimeError: no CJK font is installed and the font wheel is missing.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((name for name in CJK_FONTS if name in installed), None)
    if family is None:
        path = bundled_cjk_font_path()
        if path is None:
            raise RuntimeError("no Chinese font found; run `make install` (pylopdf-fonts-zh-cn)")
        font_manager.fontManager.addfont(str(path))
        family = font_manager.FontProperties(fname=str(path)).get_name()
    rc = matplotlib.rcParams
    rc["font.family"] = "sans-serif"
    rc["font.sans-serif"] = [family] + [f for f in rc["font.sans-serif"] if f != family]
    rc["axes.unicode_minus"] = False  # the CJK font may lack U+2212
    return family


def overlay_box(
    image: Image.Image, m: ArrayLike, box: tuple[int, int, int, int], alpha: float = 0.7,
    cmap: str = "jet", outline: tuple[int, int, int] | None = (255, 255, 255),
) -> Image.Image:
    """Lay a map over only the region ``box`` of a photo, e.g. the centre crop the model saw.

    With ``box = images.crop_box(image.size)`` a map computed on the 224x224 crop
    lands where the model looked, instead of being stretched over the whole photo.

    Shapes:
        m: ``(h, w)``, any size: upsampled to the box; ``box``: ``(left, top, right, bottom)``.

    Introduced in notebooks/09_2_1_cam.
    """
    left, top, right, bottom = box
    if not (0 <= left < right <= image.width and 0 <= top < bottom <= image.height):
        raise ValueError(f"box {box} does not lie inside the image of size {image.size}")
    out = image.convert("RGB")  # a copy
    out.paste(overlay(out.crop(box), m, alpha, cmap), (left, top))
    if outline is not None:
        from PIL import ImageDraw

        ImageDraw.Draw(out).rectangle((left, top, right - 1, bottom - 1), outline=outline, width=2)
    return out


def highlight_figure(
    words: list[str], weights: ArrayLike | list[float], normalize: bool = False,
    width: float = 6.0, fontsize: float = 14.0, show_weights: bool = True,
) -> matplotlib.figure.Figure:
    """Words on a red background whose opacity is the weight, as a matplotlib figure (PNG/PDF).

    The picture of :func:`helpers.text.highlight_html`, with the same checks (same
    errors for a length mismatch, NaN, negative or all-zero weights) and the same
    ``normalize`` (divide by the maximum). Words wrap onto new lines at ``width``
    inches; a CJK font with a Latin fallback draws every glyph.

    Args:
        words: the words (or tokens).
        weights: one weight per word, in [0, 1] unless ``normalize``.
        normalize: divide the weights by their maximum.
        width: figure width in inches (fixed, so the figure size does not depend on the font).
        fontsize: word size in points.
        show_weights: print each weight (two decimals) under its word.

    Returns:
        A ``Figure`` not managed by pyplot (no global state): in Jupyter it
        displays itself; ``fig.savefig("words.png")`` exports it.

    Shapes:
        words: (T,), weights: (T,).

    Introduced in notebooks/09_3_attention.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from . import text

    text.highlight_html(words, weights, normalize=normalize)  # the same validation and errors
    w = to_numpy(weights).astype(np.float64)
    alphas = w / w.max() if normalize else w
    prop = font_manager.FontProperties(family=[setup_cjk_font(), "DejaVu Sans"], size=fontsize)
    small = prop.copy()
    small.set_size(fontsize * 0.6)
    fig = Figure(figsize=(width, 1.0), dpi=100)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0  # pixels per point
    pad, gap = 4.0 * px, 3.0 * px
    box_h = fontsize * 1.5 * px
    line_h = box_h + (fontsize * 0.8 * px if show_weights else 0.0) + 2 * gap
    max_x = width * fig.dpi - pad
    places, x, row = [], pad, 0
    for word in words:
        tw = renderer.get_text_width_height_descent(str(word), prop, ismath=False)[0] + 2 * gap
        if show_weights:
            tw = max(tw, renderer.get_text_width_height_descent("0.00", small, ismath=False)[0])
        if x + tw > max_x and x > pad:
            x, row = pad, row + 1
        places.append((x, row, tw))
        x += tw + gap
    height = (row + 1) * line_h + 2 * pad
    fig.set_size_inches(width, height / fig.dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, width * fig.dpi)
    ax.set_ylim(height, 0.0)  # y grows downwards, in pixels
    ax.axis("off")
    for word, a, value, (x, row, tw) in zip(words, alphas, w, places, strict=True):
        y = pad + row * line_h
        ax.add_patch(Rectangle((x, y), tw, box_h, facecolor=(1.0, 0.0, 0.0, float(a)),
                               edgecolor=(0.8, 0.8, 0.8), linewidth=0.5))
        ax.text(x + tw / 2, y + box_h / 2, str(word), ha="center", va="center_baseline",
                fontproperties=prop)
        if show_weights:
            ax.text(x + tw / 2, y + box_h + gap, f"{value:.2f}", ha="center", va="top",
                    fontproperties=small, color="0.35")
    return fig
