"""The 9.3 attention views: head view, one head's heat map, model view, sentiment text box.

A seeded random attention tensor with planted heads (identity, all-to-[CLS]) is
drawn; the tests check the weights behind the drawn lines and the pixels, not
just that drawing runs. The text box uses the shipped AttnGRU (about a second).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from traitlets import TraitError

from helpers import text
from helpers.draw import textviz
from helpers.widgets import attention as views
from helpers.widgets import sentiment

TOKENS = ["[CLS]", "我", "很", "喜欢", "这", "本", "书", "[SEP]"]
T = len(TOKENS)


@pytest.fixture()
def attn() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, T, T, generator=g).mul(2).softmax(-1)  # (L, H, T, T)
    a[0, 0] = torch.eye(T)  # layer 0 head 0: each token attends to itself
    a[1, 2] = 0.0
    a[1, 2, :, 0] = 1.0  # layer 1 head 2: everything on [CLS] (a "no-op" head)
    return a


def png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_drawn_lines_are_the_current_heads_weights(attn):
    view = views.head_view(attn, TOKENS, layer=1, head=1)
    np.testing.assert_allclose(view.drawn, attn[1, 1].numpy())
    expected = {(i, j) for i in range(T) for j in range(T) if attn[1, 1, i, j] >= views.MIN_WEIGHT}
    assert {(i, j) for i, j, _ in view.lines} == expected
    for i, j, w in view.lines:
        assert w == pytest.approx(float(attn[1, 1, i, j]))
    weights = [w for _, _, w in view.lines]
    assert weights == sorted(weights)  # strong lines drawn last, on top


def test_changing_head_or_layer_changes_the_picture_and_the_weights(attn):
    view = views.head_view(attn, TOKENS)
    first, renders = view.image_widget.value, view.renders
    view.head.value = 1
    assert view.renders == renders + 1 and view.image_widget.value != first
    np.testing.assert_allclose(view.drawn, attn[0, 1].numpy())
    second = view.image_widget.value
    view.layer.value = 1
    assert view.image_widget.value not in (first, second)
    np.testing.assert_allclose(view.drawn, attn[1, 1].numpy())
    assert "层 1/1 · 头 1/2" in view.info.value


def test_identity_head_draws_horizontal_lines_in_the_head_colour(attn):
    view = views.head_view(attn, TOKENS, layer=0, head=0)
    assert [(i, j) for i, j, _ in view.lines] == [(i, i) for i in range(T)]
    pixels = png_pixels(view.render())
    width, _, xl, xr = view._geometry(T)
    assert pixels.shape[1] == width
    colour = np.array(view.colour())
    for i in range(T):
        mid = pixels[view._y(i), (xl + xr) // 2]
        assert np.abs(mid.astype(int) - colour).max() <= 12, (i, mid)
    between = pixels[view._y(0) + view.row_height // 2, (xl + xr) // 2]
    assert (between > 240).all()  # no line between two rows


def test_hiding_cls_sep_removes_their_lines(attn):
    view = views.head_view(attn, TOKENS, layer=1, head=2)  # the all-to-[CLS] head
    assert {j for _, j, _ in view.lines} == {0}
    tall = png_pixels(view.image_widget.value).shape[0]
    view.hide_special.value = True
    assert view.shown_tokens == TOKENS[1:-1]
    assert view.lines == [] and not view.drawn.any()  # all its weight was on [CLS]
    assert png_pixels(view.image_widget.value).shape[0] < tall
    view.head.value = 1
    stripped, kept = text.strip_special(attn, TOKENS, renormalize=True)
    assert kept == view.shown_tokens
    np.testing.assert_allclose(view.drawn, stripped[1, 1].numpy(), rtol=1e-6)
    np.testing.assert_allclose(view.drawn.sum(1), 1.0, rtol=1e-5)
    assert "已隐藏 [CLS]/[SEP]" in view.info.value
    view.hide_special.value = False
    assert len(view.drawn) == T


def test_hiding_without_renormalizing_keeps_the_raw_weights(attn):
    view = views.head_view(attn, TOKENS, layer=1, head=0, hide_special=True, renormalize=False)
    stripped, _ = text.strip_special(attn, TOKENS)
    np.testing.assert_allclose(view.drawn, stripped[1, 0].numpy())
    assert (view.drawn.sum(1) < 1.0).all()


def test_picking_a_token_draws_only_its_lines(attn):
    view = views.head_view(attn, TOKENS, layer=1, head=0, token=3)
    assert {i for i, _, _ in view.lines} == {3}
    np.testing.assert_allclose(view.drawn[3], attn[1, 0, 3].numpy())
    assert not np.delete(view.drawn, 3, axis=0).any()
    assert "“喜欢”" in view.info.value
    view.hide_special.value = True  # the index is the original one; its row moves up by one
    assert view.token.value == 3 and {i for i, _, _ in view.lines} == {2}
    view.token.value = -1
    assert {i for i, _, _ in view.lines} == set(range(T - 2))


def test_special_tokens_cannot_be_picked_while_hidden(attn):
    view = views.head_view(attn, TOKENS, token=0)
    assert view.token.value == 0
    view.hide_special.value = True
    assert view.token.value == -1 and 0 not in [v for _, v in view.token.options]
    with pytest.raises(TraitError):
        view.token.value = T - 1  # [SEP]


def test_out_of_range_layer_head_or_token_cannot_be_chosen(attn):
    view = views.head_view(attn, TOKENS, layer=7, head=99)
    assert (view.layer.value, view.head.value) == (1, 2)  # clamped to the model
    assert (view.layer.max, view.head.max) == (1, 2)
    view.head.value = 3
    view.layer.value = -1
    assert (view.layer.value, view.head.value) == (0, 2)
    np.testing.assert_allclose(view.drawn, attn[0, 2].numpy())
    with pytest.raises(TraitError):
        view.token.value = T
    assert views.head_view(attn, TOKENS, token=42).token.value == -1


def test_bad_attention_shapes_are_rejected(attn):
    with pytest.raises(ValueError, match=r"\(layers, heads, T, T\) with T = 7"):
        views.head_view(attn, TOKENS[:-1])
    with pytest.raises(ValueError, match="got shape"):
        views.head_view(attn[0], TOKENS)


def test_widget_has_labelled_controls_and_a_plain_text_repr(attn):
    view = views.head_view(attn, TOKENS)
    assert view.head.description == "头" and view.layer.description == "层"
    assert view.image_widget in view.widget.children
    assert view._repr_mimebundle_()["text/plain"].startswith("注意力头视图：2 层 × 3 头")


def test_heatmap_shows_the_matrix_with_tokens_and_chinese_glyphs(attn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would raise
        fig = textviz.attention_heatmap(attn[1, 1], TOKENS, title="层 1 头 1")
        fig.savefig(io.BytesIO(), format="png")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), attn[1, 1].numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == TOKENS
    assert [t.get_text() for t in ax.get_yticklabels()] == TOKENS
    with pytest.raises(ValueError, match="T = 8"):
        textviz.attention_heatmap(attn[0], TOKENS)


def test_model_view_tiles_every_layer_and_head(attn):
    cell = 16
    img = np.asarray(textviz.model_view(attn, TOKENS, cell=cell))
    assert img.shape == (22 + 2 * (cell + 4), 40 + 3 * (cell + 4), 3)
    darkest = np.asarray(textviz.model_view(torch.ones(1, 1, 1, 1), ["x"], cell=cell))[30, 50]
    tile = img[22:22 + cell, 40:40 + cell]  # layer 0 head 0: identity, T=8 -> 2x2 px per weight
    assert (tile[0, 0] == darkest).all() and (tile[0, cell - 1] > 240).all()
    rows, cols = slice(22 + cell + 4, 22 + 2 * cell + 4), slice(48 + 2 * cell, 48 + 3 * cell)
    no_op = img[rows, cols]  # layer 1 head 2
    assert (no_op[:, :2] == darkest).all() and (no_op[:, 2:] > 240).all()  # column [CLS]
    hidden = np.asarray(textviz.model_view(attn, TOKENS, hide_special=True, cell=cell))
    no_op = hidden[rows, cols]
    assert (no_op > 240).all()  # without [CLS] that head has nothing left
    own = np.asarray(textviz.model_view(attn * 0.25, TOKENS, cell=cell, vmax=None))
    for layer in range(2):
        for head in range(3):
            y, x = 22 + layer * (cell + 4), 40 + head * (cell + 4)
            tile = own[y:y + cell, x:x + cell].reshape(-1, 3)
            assert (tile == darkest).all(axis=1).any()  # each head's maximum is darkest
    faint = np.asarray(textviz.model_view(attn * 0.25, TOKENS, cell=cell))
    assert not (faint == darkest).all(axis=-1).any()  # on the common scale nothing reaches 1


# --------------------------------------------------------------------- text box ---


def test_text_box_empty_input_is_a_friendly_message():
    box = sentiment.sentiment_box()
    assert "请在上面的框里输入" in box.result.value
    box.text.value = "   \n "
    assert "请在上面的框里输入" in box.result.value and "Traceback" not in box.result.value


def test_text_box_predicts_and_highlights():
    box = sentiment.sentiment_box("房间很干净，服务也很热情，非常满意")
    assert "预测：正面" in box.result.value and box.result.value.count("<span") >= 5
    box.text.value = "太差了，再也不会来了"  # the observer re-renders
    assert "预测：负面" in box.result.value


def test_text_box_escapes_html():
    box = sentiment.sentiment_box("<script>alert(1)</script>这本书很好看")
    out = box.result.value
    assert "<script" not in out and "</script" not in out
    assert out.count("&lt;") == 2 and ">script<" in out  # jieba splits "<", "script", ">"
    assert "<b>预测：" in out  # our own markup is still there


def test_text_box_very_long_input_is_cut_with_a_note():
    box = sentiment.sentiment_box("这家酒店很好，" * 2000)
    out = box.result.value
    assert "只分析前 1000 个字符" in out and "truncated to the first 128" in out
    assert out.count("<span") == 128


def test_text_box_shows_analysis_errors_as_text():
    def refuse(value):
        raise ValueError("<b>bad</b> input")

    box = sentiment.SentimentBox("hello", analyze=refuse)
    assert "无法分析" in box.result.value and "&lt;b&gt;bad" in box.result.value
