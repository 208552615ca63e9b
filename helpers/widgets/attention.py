"""Attention views of section 9.3, drawn inside the notebook with no CDN (unlike BertViz).

* :class:`HeadView` (:func:`head_view`): exBERT-like lines from each token (left,
  the query) to each token (right, the key), opacity and thickness following the
  weight; sliders for layer ("层") and head ("头"), a token picker, and a switch
  that hides ``[CLS]``/``[SEP]``. Drawn with PIL into an ``ipywidgets.Image``
  (the token columns are cached, a redraw only draws lines).
* :func:`attention_heatmap`: one head's ``(q, k)`` matrix as a matplotlib figure.
* :func:`model_view`: every layer x head as a thumbnail heat map in one PIL image.
* :class:`SentimentBox` (:func:`sentiment_box`): type a Chinese sentence, see the
  AttnGRU prediction and its word attention (9.3.1).

Example::

    attn, tokens = text.attention_from_bert("The cat sat on the mat.")
    view = widgets.head_view(attn, tokens, layer=2, head=0)
    view  # view.head.value = 3 drives it from code

Introduced in notebooks/09_3_attention.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache

import ipywidgets as W
import matplotlib
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from .. import text, viz
from .common import to_png

MIN_WEIGHT = 0.01  # lines lighter than this are not drawn


@lru_cache(maxsize=8)
def pil_font(size: int = 14) -> ImageFont.FreeTypeFont:
    """The CJK font matplotlib uses (installed or pip-shipped), for PIL drawing."""
    path = font_manager.findfont(font_manager.FontProperties(family=viz.setup_cjk_font()))
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=16)
def line_palette(rgb: tuple[int, int, int]) -> Image.Image:
    """A fixed palette for a head view drawn in one colour: white -> ``rgb``, and greys.

    Quantizing to it is exact enough for the picture (lines only blend the head
    colour with white, text is grey on white) and makes a PNG 3-4x faster to
    encode than an RGB one.
    """
    ramp = np.linspace(0.0, 1.0, 160)[:, None]  # (160, 1)
    colours = 255.0 + (np.array(rgb, dtype=np.float64) - 255.0) * ramp  # (160, 3)
    greys = np.repeat(np.linspace(255.0, 0.0, 96)[1:, None], 3, axis=1)  # (95, 3)
    table = np.round(np.concatenate([colours, greys])).astype(np.uint8)  # (255, 3)
    palette = Image.new("P", (1, 1))
    palette.putpalette(table.ravel().tolist() + [0, 0, 0])
    return palette


def _short(token: str, n: int = 14) -> str:
    return token if len(token) <= n else token[: n - 1] + "…"


def _check_attn(attn: torch.Tensor | np.ndarray, tokens: Sequence[str]) -> torch.Tensor:
    a = torch.as_tensor(attn).detach().float().cpu()
    if a.dim() != 4 or a.shape[-1] != a.shape[-2] or a.shape[-1] != len(tokens):
        raise ValueError(f"attn must be (layers, heads, T, T) with T = {len(tokens)} tokens, "
                         f"got shape {tuple(a.shape)}")
    return a


class HeadView:
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

    def __init__(self, attn: torch.Tensor | np.ndarray, tokens: Sequence[str], *, layer: int = 0,
                 head: int = 0, token: int = -1, hide_special: bool = False,
                 renormalize: bool = True, row_height: int = 22, title: str = "") -> None:
        self.tokens = list(tokens)
        self.attn = _check_attn(attn, self.tokens)  # (L, H, T, T)
        n_layers, n_heads = self.attn.shape[:2]
        self.renormalize, self.row_height, self.title = renormalize, row_height, title
        self._cache: dict[bool, tuple[np.ndarray, list[int], Image.Image]] = {}
        self._busy = False
        self.renders = 0
        self.layer = W.IntSlider(value=layer, min=0, max=n_layers - 1, description="层")
        self.head = W.IntSlider(value=head, min=0, max=n_heads - 1, description="头")
        self.hide_special = W.Checkbox(value=hide_special, description="隐藏 [CLS]/[SEP]")
        self.token = W.Dropdown(description="词元")
        self._sync_token_options(token)
        self.info = W.HTML()
        self.image_widget = W.Image(format="png")
        for w in (self.layer, self.head, self.token):
            w.observe(self._redraw, names="value")
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
        return 560, self.TOP + n * self.row_height + 8, 200, 340

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
            draw.text((xl, self._y(i)), _short(tok), fill="black", font=font, anchor="rm")
            draw.text((xr, self._y(i)), _short(tok), fill="black", font=font, anchor="lm")
        return img

    def _sync_token_options(self, selected: int) -> None:
        keep = self._view(self.hide_special.value)[1]
        self._busy = True
        try:
            self.token.options = [("全部词元", -1)] + [(f"{i}: {self.tokens[i]}", i) for i in keep]
            self.token.value = selected if selected in keep else -1
        finally:
            self._busy = False

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

    def _redraw(self, change: dict) -> None:
        if not self._busy:
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
        for i, j, v in self.lines:
            draw.line([(xl + 8, self._y(i)), (xr - 8, self._y(j))],
                      fill=(r, g, b, int(40 + 215 * v)), width=1 + int(round(4 * v)))
        if row is not None:  # the picked token: a box, and each key's weight on the right
            half = self.row_height // 2
            draw.rectangle((4, self._y(row) - half, xl + 4, self._y(row) + half - 1),
                           outline=(r, g, b), width=2)
            small = pil_font(12)
            for j, v in enumerate(w[row]):
                draw.rectangle((xr + 110, self._y(j) - 5, xr + 110 + int(90 * v), self._y(j) + 5),
                               fill=(r, g, b, 200))
                draw.text((width - 8, self._y(j)), f"{v:.2f}", fill="black", font=small,
                          anchor="rm")
        title = f"{self.title}  层 {self.layer.value} · 头 {self.head.value}".strip()
        draw.text((8, 4), title, fill=(r, g, b), font=pil_font(14))
        return img

    def colour(self) -> tuple[int, int, int]:
        """The current head's line colour (tab10 without its grey)."""
        k = (0, 1, 2, 3, 4, 5, 6, 8, 9)[self.head.value % 9]
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

    def render(self) -> bytes:
        """Redraw into ``image_widget`` and update ``info``; returns the PNG bytes."""
        picture = self.picture().quantize(palette=line_palette(self.colour()),
                                          dither=Image.Dither.NONE)
        png = to_png(picture)
        self.image_widget.value = png
        self.info.value = html.escape(self.describe())
        self.renders += 1
        return png

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        data = self.widget._repr_mimebundle_(**kwargs)
        n_layers, n_heads = self.attn.shape[:2]
        data["text/plain"] = (f"注意力头视图：{n_layers} 层 × {n_heads} 头，{len(self.tokens)} 个词元"
                              "（在 Jupyter 中拖动滑块查看）")
        return data


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
    viz.setup_cjk_font()
    side = min(9.0, 2.5 + 0.28 * len(tokens))
    fig = Figure(figsize=(side + 1.2, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(a, cmap=matplotlib.colormaps[cmap], vmin=0.0, vmax=max(float(a.max()), 1e-6))
    labels = [_short(t, 10) for t in tokens]
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
    a = _check_attn(attn, tokens)
    if hide_special:
        a, tokens = text.strip_special(a, tokens, renormalize=True)
    n_layers, n_heads, t, _ = a.shape
    lut = (matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[..., :3] * 255).astype(np.uint8)
    a = a.numpy()
    top = a.max(axis=(-1, -2), keepdims=True) if vmax is None else np.full((1, 1, 1, 1), vmax)
    idx = np.minimum(a / np.maximum(top, 1e-12) * 256.0, 255).astype(np.uint8)  # (L, H, T, T)
    left, top, gap = 40, 22, 4
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
            tile = Image.fromarray(lut[idx[layer, h]]).resize((cell, cell), method)
            img.paste(tile, (left + h * (cell + gap), y))
    return img


class SentimentBox:
    """Type a Chinese sentence; see the AttnGRU's prediction and its word attention (9.3.1).

    Attributes:
        text: the ``Text`` box ("评论"; updates on Enter).
        result: ``HTML`` with the prediction and the highlighted words, or a friendly message.
        widget: the whole UI (``VBox``).
    """

    MAX_CHARS = 1000  # longer input is cut before segmentation (the model reads 128 words)

    def __init__(self, value: str = "",
                 analyze: Callable[[str], tuple] = text.word_attention) -> None:
        self.analyze = analyze
        self.text = W.Text(value=value, description="评论", continuous_update=False,
                           placeholder="输入一句中文评论，按回车", layout=W.Layout(width="90%"))
        self.result = W.HTML()
        self.text.observe(lambda change: self.render(), names="value")
        self.widget = W.VBox([self.text, self.result])
        self.render()

    def render(self) -> str:
        """Analyse the box's text and show the result; returns the HTML."""
        value = self.text.value
        if not value.strip():
            out = "<i>请在上面的框里输入一句中文评论（例如“房间很干净，服务也很热情”），按回车查看预测。</i>"
        else:
            notes = []
            if len(value) > self.MAX_CHARS:
                value = value[: self.MAX_CHARS]
                notes.append(f"输入太长，只分析前 {self.MAX_CHARS} 个字符")
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    words, weights, probs = self.analyze(value)
            except ValueError as err:
                out = f"<span style='color:#b00'>无法分析这段文字：{html.escape(str(err))}</span>"
            else:
                notes += [html.escape(str(w.message)) for w in caught]
                pos = float(probs[1])
                label = "正面" if pos >= 0.5 else "负面"
                top = int(torch.as_tensor(weights).argmax())
                out = (f"<b>预测：{label}</b>（正面概率 {pos:.3f}）· 注意力最大的词："
                       f"{html.escape(words[top])}（{float(weights[top]):.3f}）"
                       + text.highlight_html(words, weights, normalize=True, sep="")
                       + "".join(f"<div style='color:#777'>注：{n}</div>" for n in notes))
        self.result.value = out
        return out

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = "情感分析文本框（在 Jupyter 中输入句子后按回车）"
        return data


def sentiment_box(value: str = "") -> SentimentBox:
    """The 9.3.1 text box: prediction (positive/negative) and highlighted word attention."""
    return SentimentBox(value)
