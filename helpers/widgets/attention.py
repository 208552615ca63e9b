"""Attention views of section 9.3, drawn inside the notebook with no CDN (unlike BertViz).

* :class:`HeadView` (:func:`head_view`): exBERT-like lines from each token (left,
  the query) to each token (right, the key), opacity and thickness following the
  weight; sliders for layer ("层") and head ("头"), a token picker, and a switch
  that hides ``[CLS]``/``[SEP]``. Drawn with PIL into an ``ipywidgets.Image``
  (the token columns are cached, a redraw only draws lines).

The static pictures (one head's heat map, the model view, highlighted words)
are in :mod:`helpers.draw.textviz`; the sentiment text box is in ``widgets.sentiment``.

Example::

    attn, tokens = text.attention_from_bert("The cat sat on the mat.")
    view = widgets.head_view(attn, tokens, layer=2, head=0)
    view  # view.head.value = 3 drives it from code

Introduced in notebooks/09_3_attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import ipywidgets as W
import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import text
from ..draw.fonts import pil_font
from ..draw.textviz import check_attn, short_token
from .base import Explorer

MIN_WEIGHT = 0.01  # lines lighter than this are not drawn
LINE_OPACITY = (40, 255)  # alpha of a line of weight 0 and of weight 1 (0..255)
LINE_WIDTH = (1, 5)  # pixels of a line of weight 0 and of weight 1
HEAD_COLOURS = (0, 1, 2, 3, 4, 5, 6, 8, 9)  # tab10 without its grey (7)
PALETTE_RAMP, PALETTE_GREYS = 160, 96  # PNG palette: head colour ramp and grey levels


@lru_cache(maxsize=16)
def line_palette(rgb: tuple[int, int, int]) -> Image.Image:
    """A fixed palette for a head view drawn in one colour: white -> ``rgb``, and greys.

    Quantizing to it is exact enough for the picture (lines only blend the head
    colour with white, text is grey on white) and makes a PNG 3-4x faster to
    encode than an RGB one.
    """
    ramp = np.linspace(0.0, 1.0, PALETTE_RAMP)[:, None]  # (160, 1)
    colours = 255.0 + (np.array(rgb, dtype=np.float64) - 255.0) * ramp  # (160, 3)
    greys = np.repeat(np.linspace(255.0, 0.0, PALETTE_GREYS)[1:, None], 3, axis=1)  # (95, 3)
    table = np.round(np.concatenate([colours, greys])).astype(np.uint8)  # (255, 3)
    palette = Image.new("P", (1, 1))
    palette.putpalette(table.ravel().tolist() + [0, 0, 0])
    return palette


class HeadView(Explorer):
    """State and widgets of the exBERT-like head view; display it or drive it from code.

    Attributes:
        layer, head: ``IntSlider`` ("层", "头"); values outside the model are clamped.
        token: ``Dropdown`` ("词元"): ``-1`` for all tokens, else the index (in the
            original ``tokens``) whose lines alone are drawn.
        hide_special: ``Checkbox``: drop ``[CLS]``/``[SEP]`` (``text.strip_special``,
            rows renormalized to sum to 1 when ``renormalize``).
        shown_tokens: the tokens in the picture now.
        drawn: ``(T', T')`` weights behind the lines now (rows of unselected tokens 0).
        lines: ``[(i, j, weight), ...]`` actually drawn (weight >= ``MIN_WEIGHT``).
        image_widget, info, widget: the picture, a caption, the whole UI (``VBox``).

    Shapes:
        attn: (layers, heads, T, T), rows sum to 1; tokens: (T,).
    """

    TOP = 56  # pixels above the first token row (title, column headers)
    WIDTH = 560  # pixels of the whole picture
    QUERY_X, KEY_X = 200, 340  # the query column ends at QUERY_X, the key column starts at KEY_X
    BAR_X, BAR_WIDTH = 110, 90  # weight bars of a picked token: right of KEY_X by BAR_X pixels

    def __init__(self, attn: torch.Tensor | np.ndarray, tokens: Sequence[str], *, layer: int = 0,
                 head: int = 0, token: int = -1, hide_special: bool = False,
                 renormalize: bool = True, row_height: int = 22, title: str = "") -> None:
        self.tokens = list(tokens)
        self.attn = check_attn(attn, self.tokens)  # (L, H, T, T)
        n_layers, n_heads = self.attn.shape[:2]
        super().__init__()
        self.renormalize, self.row_height, self.title = renormalize, row_height, title
        self._cache: dict[bool, tuple[np.ndarray, list[int], Image.Image]] = {}
        self.layer = W.IntSlider(value=layer, min=0, max=n_layers - 1, description="层")
        self.head = W.IntSlider(value=head, min=0, max=n_heads - 1, description="头")
        self.hide_special = W.Checkbox(value=hide_special, description="隐藏 [CLS]/[SEP]")
        self.token = W.Dropdown(description="词元")
        self._sync_token_options(token)
        self.info = W.HTML()
        self.image_widget = W.Image(format="png")
        for w in (self.layer, self.head, self.token):
            w.observe(self._redraw, names="value")  # Explorer._redraw
        self.hide_special.observe(self._on_hide, names="value")
        self.widget = W.VBox([W.HBox([self.layer, self.head]),
                              W.HBox([self.token, self.hide_special]), self.info,
                              self.image_widget])
        self.render()

    # ------------------------------------------------------------ state ---

    def _view(self, hide: bool) -> tuple[np.ndarray, list[int], Image.Image]:
        """Cached (attention, kept indices, picture of the two token columns) for a switch state."""
        if hide not in self._cache:
            keep = [i for i, t in enumerate(self.tokens) if not (hide and t in text.SPECIAL_TOKENS)]
            a = self.attn
            if hide:
                a, _ = text.strip_special(a, self.tokens, renormalize=self.renormalize)
            self._cache[hide] = (a.numpy(), keep, self._columns([self.tokens[i] for i in keep]))
        return self._cache[hide]

    def _geometry(self, n: int) -> tuple[int, int, int, int]:
        """(width, height, x of the left column's right edge, x of the right column)."""
        return self.WIDTH, self.TOP + n * self.row_height + 8, self.QUERY_X, self.KEY_X

    def _y(self, i: int) -> int:
        return self.TOP + i * self.row_height + self.row_height // 2

    def _columns(self, shown: list[str]) -> Image.Image:
        width, height, xl, xr = self._geometry(len(shown))
        img = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(img)
        font, small = pil_font(14), pil_font(12)
        draw.text((xl, self.TOP - 12), "查询 query", fill=(90, 90, 90), font=small, anchor="rm")
        draw.text((xr, self.TOP - 12), "键 key", fill=(90, 90, 90), font=small, anchor="lm")
        for i, tok in enumerate(shown):
            draw.text((xl, self._y(i)), short_token(tok), fill="black", font=font, anchor="rm")
            draw.text((xr, self._y(i)), short_token(tok), fill="black", font=font, anchor="lm")
        return img

    def _sync_token_options(self, selected: int) -> None:
        keep = self._view(self.hide_special.value)[1]
        with self.quiet():
            self.token.options = [("全部词元", -1)] + [(f"{i}: {self.tokens[i]}", i) for i in keep]
            self.token.value = selected if selected in keep else -1

    @property
    def shown_tokens(self) -> list[str]:
        return [self.tokens[i] for i in self._view(self.hide_special.value)[1]]

    def weights(self) -> np.ndarray:
        """The current head's matrix over the shown tokens. Shapes: (T', T')."""
        return self._view(self.hide_special.value)[0][self.layer.value, self.head.value]

    # --------------------------------------------------------- handlers ---

    def _on_hide(self, change: dict) -> None:
        self._sync_token_options(self.token.value)
        self.render()

    # ----------------------------------------------------------- render ---

    def picture(self) -> Image.Image:
        """Draw the lines of the current layer, head and token over the cached columns."""
        a, keep, columns = self._view(self.hide_special.value)
        w = a[self.layer.value, self.head.value].copy()  # (T', T')
        row = keep.index(self.token.value) if self.token.value in keep else None
        if row is not None:
            w[np.arange(len(keep)) != row] = 0.0
        self.drawn = w
        img = columns.copy()
        draw = ImageDraw.Draw(img, "RGBA")
        width, _, xl, xr = self._geometry(len(keep))
        r, g, b = self.colour()
        qs, ks = np.nonzero(w >= MIN_WEIGHT)
        order = np.argsort(w[qs, ks], kind="stable")  # strong lines on top
        self.lines = [(int(qs[n]), int(ks[n]), float(w[qs[n], ks[n]])) for n in order]
        (o0, o1), (w0, w1) = LINE_OPACITY, LINE_WIDTH
        for i, j, v in self.lines:
            draw.line([(xl + 8, self._y(i)), (xr - 8, self._y(j))],
                      fill=(r, g, b, int(o0 + (o1 - o0) * v)), width=w0 + int(round((w1 - w0) * v)))
        if row is not None:  # the picked token: a box, and each key's weight on the right
            half = self.row_height // 2
            draw.rectangle((4, self._y(row) - half, xl + 4, self._y(row) + half - 1),
                           outline=(r, g, b), width=2)
            small = pil_font(12)
            for j, v in enumerate(w[row]):
                bar = xr + self.BAR_X
                draw.rectangle((bar, self._y(j) - 5, bar + int(self.BAR_WIDTH * v), self._y(j) + 5),
                               fill=(r, g, b, 200))
                draw.text((width - 8, self._y(j)), f"{v:.2f}", fill="black", font=small,
                          anchor="rm")
        title = f"{self.title}  层 {self.layer.value} · 头 {self.head.value}".strip()
        draw.text((8, 4), title, fill=(r, g, b), font=pil_font(14))
        return img

    def colour(self) -> tuple[int, int, int]:
        """The current head's line colour (tab10 without its grey)."""
        k = HEAD_COLOURS[self.head.value % len(HEAD_COLOURS)]
        return tuple(int(255 * c) for c in matplotlib.colormaps["tab10"](k)[:3])

    def describe(self) -> str:
        """The caption: what the picture shows (plain text)."""
        n_layers, n_heads = self.attn.shape[:2]
        parts = [f"层 {self.layer.value}/{n_layers - 1} · 头 {self.head.value}/{n_heads - 1}",
                 f"{len(self.lines)} 条线（权重 ≥ {MIN_WEIGHT}）：左边的词元（查询）关注右边的词元（键），"
                 "线越粗越深权重越大"]
        if self.token.value != -1:
            parts.append(f"只画词元“{self.tokens[self.token.value]}”的线，右侧数字是它的注意力权重")
        if self.hide_special.value:
            parts.append("已隐藏 [CLS]/[SEP]" + ("，每行其余权重重新归一化为和 1"
                                                 if self.renormalize else ""))
        return " · ".join(parts)

    def encode(self, picture: Image.Image) -> bytes:
        """PNG of the picture quantized to the head's palette (3-4x faster to encode)."""
        return super().encode(picture.quantize(palette=line_palette(self.colour()),
                                               dither=Image.Dither.NONE))

    def summary(self) -> str:
        n_layers, n_heads = self.attn.shape[:2]
        return (f"注意力头视图：{n_layers} 层 × {n_heads} 头，{len(self.tokens)} 个词元"
                "（在 Jupyter 中拖动滑块查看）")


def head_view(attn: torch.Tensor | np.ndarray, tokens: Sequence[str],
              **options: object) -> HeadView:
    """Build the exBERT-like head view (see :class:`HeadView`).

    Args:
        attn, tokens: from ``text.attention_from_bert`` or ``text.attention_from_tiny_transformer``.
        **options: ``layer``, ``head``, ``token``, ``hide_special``, ``renormalize``, ``title``.

    Shapes:
        attn: (layers, heads, T, T); tokens: (T,).
    """
    return HeadView(attn, tokens, **options)
