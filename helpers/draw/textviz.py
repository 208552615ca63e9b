"""Drawing words and attention (section 9.3): highlighted words, heat maps, the model view.

``text`` computes the numbers (attention tensors, word weights); this module
draws them and knows no widget. ``widgets.attention`` builds the interactive
head view on top of it.

* :func:`highlight_html` / :func:`highlight_figure`: words on a red background
  whose opacity is the weight, as HTML or as a matplotlib figure (PNG/PDF).
* :func:`attention_heatmap`: one head's ``(q, k)`` matrix as a matplotlib figure.
* :func:`model_view`: every layer x head as a thumbnail heat map in one PIL image.

Introduced in notebooks/09_3_attention.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw

from .. import text
from . import viz
from .fonts import pil_font, setup_cjk_font

HIGHLIGHT_RGB = (1.0, 0.0, 0.0)  # red, as the textbook's figure 9-9
MODEL_VIEW_LABELS = (40, 22)  # pixels left of and above the grid, for the layer and head labels
MODEL_VIEW_GAP = 4  # pixels between two thumbnails
TOKEN_CHARS = 14  # a longer token is cut with "…"


def short_token(token: str, n: int = TOKEN_CHARS) -> str:
    """A token cut to ``n`` characters (the last one "…") so that labels stay readable."""
    return token if len(token) <= n else token[: n - 1] + "…"


def check_attn(attn: torch.Tensor | np.ndarray, tokens: Sequence[str]) -> torch.Tensor:
    """``attn`` as a float CPU tensor, or a clear error. Shapes: ``(layers, heads, T, T)``."""
    a = torch.as_tensor(attn).detach().float().cpu()
    if a.dim() != 4 or a.shape[-1] != a.shape[-2] or a.shape[-1] != len(tokens):
        raise ValueError(f"attn must be (layers, heads, T, T) with T = {len(tokens)} tokens, "
                         f"got shape {tuple(a.shape)}")
    return a


def word_opacity(words: Sequence[str], weights: Any, normalize: bool = False) -> np.ndarray:
    """Check one weight per word and return the opacities in [0, 1].

    Args:
        words: the words (or tokens).
        weights: one non-negative, finite weight per word (list, array or tensor);
            in [0, 1] unless ``normalize``.
        normalize: divide by the **maximum**, so the strongest word is fully red
            (dividing by the sum would make long sentences pale).

    Shapes:
        words: (T,), weights: (T,); returns (T,) float64.
    """
    words = list(words)
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.dim() != 1:
        raise ValueError(f"weights must be one-dimensional, got shape {tuple(w.shape)}")
    if not words:
        raise ValueError("nothing to highlight: got 0 words")
    if len(words) != len(w):
        raise ValueError(f"got {len(words)} words but {len(w)} weights; they must match")
    if not torch.isfinite(w).all():
        i = int((~torch.isfinite(w)).nonzero()[0])
        raise ValueError(f"weights must be finite, got {w[i].item():.4g} "
                         f"at position {i} ({words[i]!r})")
    if (w < 0).any():
        i = int((w < 0).nonzero()[0])
        raise ValueError(f"weights must be >= 0, got {w[i].item():.4g} "
                         f"at position {i} ({words[i]!r})")
    if (w == 0).all():
        raise ValueError(f"all {len(w)} weights are 0; nothing to highlight")
    if normalize:
        w = w / w.max()
    elif w.max() > 1:
        raise ValueError("weights must be <= 1 unless normalize=True, "
                         f"got max {w.max().item():.4g}")
    return w.numpy()


def highlight_html(words: Sequence[str], weights: Any, normalize: bool = False,
                   sep: str = " ") -> str:
    """Words on a red background whose opacity follows their weight (:func:`word_opacity`).

    Every word is HTML-escaped, so ``"<script>"`` shows as text.

    Args:
        words, weights, normalize: as :func:`word_opacity`.
        sep: put between the words (``""`` for Chinese without gaps).

    Returns:
        A ``<div>`` of ``<span>`` elements, one per word, for ``IPython.display.HTML``.

    Shapes:
        words: (T,), weights: (T,).
    """
    alphas = word_opacity(words, weights, normalize)
    r, g, b = (int(255 * c) for c in HIGHLIGHT_RGB)
    spans = [
        f'<span style="background-color: rgba({r}, {g}, {b}, {a:.3f}); padding: 1px 2px; '
        f'border-radius: 3px" title="{a:.3f}">{html.escape(str(word), quote=True)}</span>'
        for word, a in zip(words, alphas.tolist(), strict=True)
    ]
    return '<div style="line-height: 2">' + html.escape(sep).join(spans) + "</div>"


def highlight_figure(
    words: list[str], weights: Any, normalize: bool = False,
    width: float = 6.0, fontsize: float = 14.0, show_weights: bool = True,
) -> matplotlib.figure.Figure:
    """Words on a red background whose opacity is the weight, as a matplotlib figure (PNG/PDF).

    The same opacities and errors as :func:`highlight_html` (both use
    :func:`word_opacity`). Words wrap onto new lines at ``width`` inches; a CJK
    font with a Latin fallback draws every glyph.

    Args:
        words, weights, normalize: as :func:`word_opacity`.
        width: figure width in inches (fixed, so the figure size does not depend on the font).
        fontsize: word size in points.
        show_weights: print each weight (two decimals) under its word.

    Returns:
        A ``Figure`` not managed by pyplot (no global state): in Jupyter it
        displays itself; ``fig.savefig("words.png")`` exports it.

    Shapes:
        words: (T,), weights: (T,).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    alphas = word_opacity(words, weights, normalize)
    values = torch.as_tensor(weights, dtype=torch.float64).tolist()  # (T,), shown under words
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
    for word, a, value, (x, row, tw) in zip(words, alphas, values, places, strict=True):
        y = pad + row * line_h
        ax.add_patch(Rectangle((x, y), tw, box_h, facecolor=(*HIGHLIGHT_RGB, float(a)),
                               edgecolor=(0.8, 0.8, 0.8), linewidth=0.5))
        ax.text(x + tw / 2, y + box_h / 2, str(word), ha="center", va="center_baseline",
                fontproperties=prop)
        if show_weights:
            ax.text(x + tw / 2, y + box_h + gap, f"{value:.2f}", ha="center", va="top",
                    fontproperties=small, color="0.35")
    return fig


def attention_heatmap(attn_head: torch.Tensor | np.ndarray, tokens: Sequence[str],
                      title: str = "", cmap: str = "Blues") -> matplotlib.figure.Figure:
    """One head's attention matrix as a heat map with the tokens on both axes.

    Returns:
        A ``Figure`` not managed by pyplot; it displays itself in Jupyter.

    Shapes:
        attn_head: (T, T), row = query, column = key; tokens: (T,).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    a = viz.to_numpy(attn_head)
    if a.ndim != 2 or a.shape != (len(tokens), len(tokens)):
        raise ValueError(f"attn_head must be (T, T) with T = {len(tokens)}, got {a.shape}")
    setup_cjk_font()
    side = min(9.0, 2.5 + 0.28 * len(tokens))  # inches: grows with T, capped
    fig = Figure(figsize=(side + 1.2, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(a, cmap=matplotlib.colormaps[cmap], vmin=0.0, vmax=max(float(a.max()), 1e-6))
    labels = [short_token(t, 10) for t in tokens]
    ax.set_xticks(range(len(tokens)), labels, rotation=90)
    ax.set_yticks(range(len(tokens)), labels)
    ax.set_xlabel("键 key（被关注的词元）")
    ax.set_ylabel("查询 query（发出注意力的词元）")
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="注意力权重")
    fig.tight_layout()
    return fig


def model_view(attn: torch.Tensor | np.ndarray, tokens: Sequence[str], hide_special: bool = False,
               cell: int = 48, cmap: str = "Blues", vmax: float | None = 1.0) -> Image.Image:
    """Every layer x head as a small heat map, in one grid (BertViz's model view, as pixels).

    Colour = attention weight from 0 (white) to ``vmax`` (darkest), one scale for
    all heads so that they can be compared; ``vmax=None`` scales each head by its
    own maximum (for diffuse attention over long sentences). ``hide_special``
    drops ``[CLS]``/``[SEP]`` and renormalizes.

    Shapes:
        attn: (layers, heads, T, T) -> a PIL image of layers rows x heads columns.
    """
    tokens = list(tokens)
    a = check_attn(attn, tokens)
    if hide_special:
        a, tokens = text.strip_special(a, tokens, renormalize=True)
    n_layers, n_heads, t, _ = a.shape
    a = a.numpy()
    top = a.max(axis=(-1, -2), keepdims=True) if vmax is None else np.full((1, 1, 1, 1), vmax)
    rgb = viz.colour(viz.colour_index(a / np.maximum(top, 1e-12)), cmap)  # (L, H, T, T, 3)
    (left, top), gap = MODEL_VIEW_LABELS, MODEL_VIEW_GAP
    img = Image.new("RGB", (left + n_heads * (cell + gap), top + n_layers * (cell + gap)), "white")
    draw = ImageDraw.Draw(img)
    font = pil_font(11)
    method = Image.Resampling.NEAREST if t <= cell else Image.Resampling.BOX
    for h in range(n_heads):
        draw.text((left + h * (cell + gap) + cell // 2, top // 2), f"头{h}", fill="black",
                  font=font, anchor="mm")
    for layer in range(n_layers):
        y = top + layer * (cell + gap)
        draw.text((left // 2, y + cell // 2), f"层{layer}", fill="black", font=font, anchor="mm")
        for h in range(n_heads):
            tile = Image.fromarray(rgb[layer, h]).resize((cell, cell), method)
            img.paste(tile, (left + h * (cell + gap), y))
    return img
