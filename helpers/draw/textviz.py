"""Drawing words and attention (section 9.3): highlighted words, heat maps, the model view.

``text`` computes the numbers (attention tensors, word weights); this module
draws them and knows no widget. ``widgets.attention`` builds the interactive
head view on top of it.

* :func:`highlight_html` / :func:`highlight_figure`: words on a red background
  whose opacity is the weight, as HTML or as a matplotlib figure (PNG/PDF); they
  live in :mod:`.highlight` and are re-exported here.
* :func:`attention_heatmap`: one head's ``(q, k)`` matrix as a matplotlib figure.
* :func:`model_view`: every layer x head as a thumbnail heat map in one PIL image.

Introduced in notebooks/09_3_attention.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import text
from . import viz
from .fonts import pil_font, setup_cjk_font
from .highlight import HIGHLIGHT_RGB, highlight_figure, highlight_html, word_opacity  # noqa: F401

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
