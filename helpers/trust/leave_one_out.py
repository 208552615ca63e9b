"""Leave-one-out on sentences: which sentences, and the class probabilities with each word deleted.

The word-level importance that :mod:`.attention` compares attention with: a word
matters as much as the predicted class's probability falls when it is **deleted**
(the sequence gets one shorter), as in notebooks/09_3_attention.

Introduced in notebooks/09_ext_trust (text section).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import torch

from ..text import models as tm


def check_docs(model: torch.nn.Module, docs: Sequence[Sequence[str]],
               least: int) -> list[list[str]]:
    """The sentences as lists of at most ``MAX_WORDS`` words, each with ``least`` words or more.

    Raises:
        ValueError: the model is in training mode, no sentence is given, or one is too short.
    """
    if model.training:
        raise ValueError("put the model in eval mode (dropout would make the scores random)")
    docs = [list(d)[: tm.MAX_WORDS] for d in docs]
    if not docs:
        raise ValueError("no sentences given")
    for i, d in enumerate(docs):
        if len(d) < least:
            empty = " (empty sentence)" if not d else ""
            raise ValueError(f"sentence {i} has {len(d)} words{empty}; "
                             f"leave-one-out needs at least {least}")
    return docs


def sample_test_reviews(n: int = 200, min_words: int = 5,
                        max_words: int = tm.MAX_WORDS) -> list[list[str]]:
    """The first ``n`` reviews of the test split with ``min_words`` to ``max_words`` jieba words.

    Same split as ``helpers.text.evaluate_shipped`` (seed from ``text_metrics.json``).
    Leave-one-out costs one forward pass per word (and the Transformer's attention
    grows with the square of the length), so long reviews can be skipped for time.
    """
    if not 2 <= min_words <= max_words <= tm.MAX_WORDS:
        raise ValueError(f"need 2 <= min_words <= max_words <= {tm.MAX_WORDS}, "
                         f"got {min_words} and {max_words}")
    meta = json.loads((tm.MODEL_DIR / "text_metrics.json").read_text(encoding="utf-8"))
    out = []
    for text, _ in tm.split_corpus(meta["seed"], subset=meta.get("subset"))["test"]:
        words = tm.tokenize(text)
        if min_words <= len(words) <= max_words:
            out.append(words)
        if len(out) == n:
            break
    return out


@torch.no_grad()
def loo_probs(model: torch.nn.Module, vocab: tm.Vocab, docs: list[list[str]],
              batch_size: int = 256) -> tuple[torch.Tensor, list[int]]:
    """Float64 class probabilities of every document with one word deleted.

    Like ``textmodels.predict``, but the softmax runs in float64 on the logits: near
    p = 1 a float32 probability has steps of 6e-8 and many deletions would tie.

    Shapes:
        probs: (sum_n T_n, 2); the rows of document n are ``starts[n]:starts[n + 1]``.
    """
    variants = [d[:i] + d[i + 1:] for d in docs for i in range(len(d))]
    starts = np.cumsum([0] + [len(d) for d in docs]).tolist()
    add_cls = isinstance(model, tm.TinyTransformerClassifier)
    order = sorted(range(len(variants)), key=lambda i: len(variants[i]))
    probs = torch.empty(len(variants), 2, dtype=torch.float64)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        logits = model(*tm.make_batch([variants[i] for i in idx], vocab, add_cls))[0]  # (B, 2)
        probs[idx] = logits.double().softmax(-1)
    return probs, starts
