"""The 9.3.1 sentiment text box: type a Chinese sentence, see the AttnGRU's word attention.

Introduced in notebooks/09_3_attention.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable

import ipywidgets as W
import torch

from .. import text
from ..draw.textviz import highlight_html


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
                       + highlight_html(words, weights, normalize=True, sep="")
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
