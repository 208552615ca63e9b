"""helpers.draw.textviz: highlighted words as HTML and as a figure (figure 9-9)."""

from __future__ import annotations

import io
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle
from PIL import Image

from helpers.draw import textviz

BOOK_WORDS = ["努力", "实现", "中华", "民族", "的", "伟大", "复兴"]
BOOK_WEIGHTS = [0.05, 0.10, 0.20, 0.05, 0.00, 0.20, 0.40]


def boxes(fig) -> list[Rectangle]:
    (ax,) = fig.axes
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def test_one_box_per_word_with_the_weight_as_opacity():
    fig = textviz.highlight_figure(BOOK_WORDS, BOOK_WEIGHTS)
    alphas = [b.get_facecolor()[3] for b in boxes(fig)]
    assert alphas == pytest.approx(BOOK_WEIGHTS)
    assert all(b.get_facecolor()[:3] == (1.0, 0.0, 0.0) for b in boxes(fig))
    assert texts(fig)[0::2] == BOOK_WORDS  # word, weight, word, weight, ...
    assert texts(fig)[1::2] == [f"{w:.2f}" for w in BOOK_WEIGHTS]


def test_normalize_divides_by_the_maximum():
    fig = textviz.highlight_figure(BOOK_WORDS, torch.tensor(BOOK_WEIGHTS), normalize=True,
                               show_weights=False)
    alphas = [b.get_facecolor()[3] for b in boxes(fig)]
    assert alphas == pytest.approx([w / 0.4 for w in BOOK_WEIGHTS])  # by hand: w / max(w)
    assert texts(fig) == BOOK_WORDS


def test_chinese_renders_without_missing_glyphs():
    words = BOOK_WORDS + ["The", "cat", "##s", "，", "！", "<script>", "1.5%"]
    weights = np.linspace(0.1, 1.0, len(words))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise
        fig = textviz.highlight_figure(words, weights)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    png = np.asarray(Image.open(buf).convert("RGB"))
    # the strongest box is pure red around its word, the weakest a pale pink
    assert (png[..., 0] > 200).any() and ((png[..., 1] < 40) & (png[..., 0] > 200)).any()


def test_long_sentences_wrap_and_pyplot_is_untouched():
    before = plt.get_fignums()
    one = textviz.highlight_figure(["好"] * 3, [0.5] * 3)
    assert one.get_size_inches()[0] == pytest.approx(6.0)  # fixed width, whatever the font
    many = textviz.highlight_figure(["非常好"] * 60, [0.5] * 60, width=4.0)
    assert plt.get_fignums() == before  # not managed by pyplot: no figure leaks
    assert many.get_size_inches()[0] == pytest.approx(4.0)
    assert many.get_size_inches()[1] > 4 * one.get_size_inches()[1]
    rows = {round(b.get_y()) for b in boxes(many)}
    assert len(rows) >= 5
    right = max(b.get_x() + b.get_width() for b in boxes(many))
    assert right <= 4.0 * many.dpi  # every box inside the figure


@pytest.mark.parametrize("words, weights, match", [
    (["a", "b"], [0.5], "2 words but 1 weights"),
    (["a", "b"], [0.5, math.nan], "finite.*'b'"),
    (["a", "b"], [0.5, -0.1], ">= 0.*'b'"),
    (["a", "b"], [0.0, 0.0], "all 2 weights are 0"),
    (["a", "b"], [0.5, 2.0], "<= 1 unless normalize"),
    ([], [], "0 words"),
    (["a"], [[0.5]], "one-dimensional"),
])
def test_figure_rejects_bad_weights_clearly(words, weights, match):
    with pytest.raises(ValueError, match=match):
        textviz.highlight_figure(words, weights)


def test_highlight_html_escapes_and_scales() :
    out = textviz.highlight_html(["<script>alert(1)</script>", "a&b", '"q"'], [0.5, 1.0, 0.0])
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "a&amp;b" in out and "&quot;q&quot;" in out
    assert out.count("<span") == 3 and "rgba(255, 0, 0, 0.500)" in out
    normalized = textviz.highlight_html(["a", "b"], torch.tensor([0.2, 4.0]), normalize=True)
    assert "rgba(255, 0, 0, 0.050)" in normalized and "rgba(255, 0, 0, 1.000)" in normalized


@pytest.mark.parametrize("words, weights, message", [
    ([], [], "got 0 words"),
    (["a", "b"], [0.5], "got 2 words but 1 weights"),
    (["a", "b"], [0.5, float("nan")], "finite, got nan at position 1"),
    (["a", "b"], [float("inf"), 0.5], "finite, got inf at position 0"),
    (["a", "b"], [0.5, -0.1], ">= 0, got -0.1 at position 1"),
    (["a", "b"], [0.0, 0.0], "all 2 weights are 0"),
    (["a", "b"], [0.5, 2.0], "<= 1 unless normalize=True, got max 2"),
    (["a", "b"], [[0.5, 0.5]], "one-dimensional, got shape"),
])
def test_highlight_html_rejects_bad_weights(words, weights, message) :
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        textviz.highlight_html(words, weights)


