"""Highlighted words (section 9.3): each word on a red background whose opacity is its weight.

The same opacities (:func:`word_opacity`, with its checks) as HTML
(:func:`highlight_html`) or as a matplotlib figure (:func:`highlight_figure`, for
PNG/PDF). :mod:`.textviz` re-exports them with the attention pictures.

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

from .fonts import setup_cjk_font

HIGHLIGHT_RGB = (1.0, 0.0, 0.0)  # red, as the textbook's figure 9-9


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
