"""Time of "is attention an explanation?" (helpers.trust.attention) on the CPU.

Prints medians for: the AttnGRU's three scores on the 200 test reviews that
notebook 9.4 uses (target: at most 15 s), the tiny Transformer's rollout and
leave-one-out on the same reviews, and MiniLM on six English sentences. Beside
ours, in the same run, the peers: gradient x input by captum's
``LayerGradientXActivation`` on the same batches, and ``scipy.stats.kendalltau``
on the same 600 score pairs. Nothing here asserts a time.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_attn_trust.py``
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from captum.attr import LayerGradientXActivation  # noqa: E402
from scipy import stats  # noqa: E402

from helpers.trust import attention as attn_trust  # noqa: E402
from helpers.trust import rankcorr  # noqa: E402
from helpers.text import models as textmodels  # noqa: E402
from timing import print_result  # noqa: E402

REPEATS = 3
SENTENCES = ["The movie was wonderful and the acting was superb.",
             "I hated the food, it was cold and bland.",
             "The cat sat on the mat because it was tired.",
             "The hotel room was clean but the staff were rude.",
             "After a long day at work, she finally went home to rest.",
             "This phone has a great screen and a terrible battery."]


def median_s(step, repeats: int = REPEATS) -> float:
    """Median wall time of ``step()`` in seconds (after one warm-up call)."""
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    docs = attn_trust.sample_test_reviews(200, min_words=5, max_words=60)
    gru, vocab = textmodels.load_text_model("attn_gru")
    tiny, tiny_vocab = textmodels.load_text_model("transformer")
    items = attn_trust.gru_scores(gru, vocab, docs)

    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    batches = [textmodels.make_batch([docs[i] for i in order[s : s + 100]], vocab, add_cls=False)
               for s in range(0, len(order), 100)]  # as gru_scores batches them

    method = LayerGradientXActivation(lambda i, m: gru(i, m)[0], gru.embed)

    def captum_gxi() -> None:
        for ids, mask in batches:
            with torch.no_grad():
                target = gru(ids, mask)[0].argmax(1)
            method.attribute(ids, target=target, additional_forward_args=(mask,)).sum(-1)

    pairs = [(it.scores[a], it.scores[b]) for it in items
             for a, b in (("attention", "loo"), ("attention", "grad_input"), ("loo", "grad_input"))]
    pairs_np = [(a.numpy(), b.numpy()) for a, b in pairs]
    rows = {
        "AttnGRU: attention + leave-one-out + gradient x input, 200 reviews":
            median_s(lambda: attn_trust.gru_scores(gru, vocab, docs)),
        "captum LayerGradientXActivation alone (gradient x input only), same batches":
            median_s(captum_gxi),
        "tiny Transformer: raw + rollout + leave-one-out, 200 reviews":
            median_s(lambda: attn_trust.transformer_scores(tiny, tiny_vocab, docs)),
        "MiniLM: raw + rollout + leave-one-out, 6 sentences":
            median_s(lambda: attn_trust.minilm_scores(SENTENCES)),
        "rankcorr.kendall_tau (tau-b and p), 600 pairs":
            median_s(lambda: [rankcorr.kendall_tau(a, b) for a, b in pairs_np]),
        "scipy.stats.kendalltau (tau-b and p), 600 pairs":
            median_s(lambda: [stats.kendalltau(a, b) for a, b in pairs_np]),
    }
    print(f"{len(docs)} reviews, {sum(len(d) for d in docs)} words; one thread; median of {REPEATS}")
    for name, s in rows.items():
        print(f"  {name:<80s} {s:7.3f} s")
    names = list(rows)
    print_result(bench="attn_trust", gru_scores_s=round(rows[names[0]], 3),
                 captum_gxi_s=round(rows[names[1]], 3),
                 transformer_scores_s=round(rows[names[2]], 3),
                 minilm_scores_s=round(rows[names[3]], 3),
                 kendall_ours_s=round(rows[names[4]], 3), kendall_scipy_s=round(rows[names[5]], 3))


if __name__ == "__main__":
    main()
