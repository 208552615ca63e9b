"""Redraw latency of the 9.3 attention head view (helpers.widgets.head_view).

Moves each control the way a student would and prints the median time from the
widget's value change to the new PNG being in the ``ipywidgets.Image`` (the
observer runs synchronously, so this is the whole redraw), on MiniLM (6 x 12
heads) for an English sentence and on the Chinese tiny Transformer for a long
review. For comparison it also times the same head view drawn the usual way,
as a matplotlib figure (a ``LineCollection``) saved as PNG, and the model view.
Target: median redraw at most 50 ms for sentences of a few dozen tokens; the
longest input the Chinese model reads (128 words + [CLS]) is timed on its own
line. Nothing here asserts a time.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_attention_views.py``
"""

from __future__ import annotations

import io
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from helpers import text  # noqa: E402
from helpers.widgets import head_view, model_view  # noqa: E402
from timing import REPEATS, median_ms, print_result  # noqa: E402

SENTENCE = ("The students opened the notebook, ran every cell, and watched how each head "
            "of the small BERT spread its attention over the words of this sentence.")
REVIEW = ("酒店的位置很好，离地铁站只有几分钟，房间也很干净，服务员的态度非常热情。"
          "不过早餐的种类比较少，味道一般，晚上隔音也不太好，总体来说还是值得推荐的。")


def matplotlib_head_view(w: np.ndarray, tokens: list[str]) -> bytes:
    """The same picture the usual way: a matplotlib figure with one line per weight, as PNG."""
    t = len(tokens)
    fig = Figure(figsize=(5.6, 0.22 * t + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(t, -1)
    ax.axis("off")
    for i, tok in enumerate(tokens):
        ax.text(0.35, i, tok, ha="right", va="center")
        ax.text(0.62, i, tok, ha="left", va="center")
    qs, ks = np.nonzero(w >= 0.01)
    segments = [((0.37, q), (0.60, k)) for q, k in zip(qs, ks)]
    colors = [(0.84, 0.15, 0.16, 0.15 + 0.85 * w[q, k]) for q, k in zip(qs, ks)]
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=1 + 4 * w[qs, ks]))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def bench_view(label: str, attn: torch.Tensor, tokens: list[str]) -> dict[str, float]:
    view = head_view(attn, tokens)
    n_layers, n_heads = attn.shape[:2]
    results: dict[str, float] = {}

    def set_head(i: int) -> None:
        view.head.value = (5 * i + 1) % n_heads

    def set_layer(i: int) -> None:
        view.layer.value = (i + 1) % n_layers

    def set_token(i: int) -> None:
        options = [v for _, v in view.token.options]
        view.token.value = options[(3 * i + 1) % len(options)]

    def toggle_special(i: int) -> None:
        view.hide_special.value = i % 2 == 0

    results[f"{label}: head"] = median_ms(set_head)
    results[f"{label}: layer"] = median_ms(set_layer)
    results[f"{label}: token (only its lines)"] = median_ms(set_token)
    view.token.value = -1
    results[f"{label}: hide [CLS]/[SEP]"] = median_ms(toggle_special)
    view.hide_special.value = False
    w = view.weights()
    base = median_ms(lambda i: matplotlib_head_view(w, view.shown_tokens), repeats=10)
    results[f"{label}: model view (all heads, PIL)"] = median_ms(
        lambda i: model_view(attn, tokens), repeats=10)
    print(f"{label}: {n_layers} layers x {n_heads} heads, {len(tokens)} tokens")
    return results | {f"{label}: matplotlib head view (baseline)": base}


def main() -> None:
    torch.set_num_threads(1)  # as the other benchmarks: steadier on a shared machine
    results = bench_view("MiniLM", *text.attention_from_bert(SENTENCE))
    results |= bench_view("tiny Transformer", *text.attention_from_tiny_transformer(REVIEW))
    with warnings.catch_warnings():  # "truncated to the first 128 words"
        warnings.simplefilter("ignore")
        longest = head_view(*text.attention_from_tiny_transformer(REVIEW * 4))
    long_ms = median_ms(lambda i: setattr(longest.head, "value", (i + 1) % 4), repeats=10)
    print(f"torch threads {torch.get_num_threads()}, {REPEATS} repeats")
    print(f"{'control':<50s} {'median ms':>10s}")
    for name, ms in results.items():
        print(f"{name:<50s} {ms:10.1f}")
    print(f"{'longest input, 129 tokens: head (not in target)':<50s} {long_ms:10.1f}")
    slider = [v for k, v in results.items() if "view" not in k.split(": ")[1]]
    ratio = results["MiniLM: matplotlib head view (baseline)"] / results["MiniLM: head"]
    print(f"slider redraws: worst median {max(slider):.1f} ms (target <= 50 ms); "
          f"matplotlib / head view redraw = {ratio:.1f}x")
    # One machine-readable line for benchmarks/run_all.py.
    print_result(explorer="9.3 attention", redraw_worst_median_ms=round(max(slider), 1))


if __name__ == "__main__":
    main()
