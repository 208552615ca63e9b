"""Is attention an explanation? Rank agreement of attention with leave-one-out and gradients.

* ``attention_rollout`` (Abnar & Zuidema 2020): attention through the layers, residuals included.
* ``gru_scores``: per sentence of the AttnGRU classifier, its attention, leave-one-out
  importance and gradient x input, as Jain & Wallace (2019) compare them.
* ``transformer_scores`` / ``minilm_scores``: raw last-layer attention and rollout next to
  leave-one-out importance, for the tiny Chinese Transformer and for MiniLM.
* ``correlate``: per-sentence Kendall tau or Spearman rho of two scores (``helpers.trust.rankcorr``).

Leave-one-out always **deletes** the token (the sequence gets one shorter), as in
notebooks/09_3_attention; the sentences and the deleted-word forward passes are in
:mod:`.leave_one_out` (``sample_test_reviews`` is re-exported here). Computes numbers
only; no picture, no UI.

Introduced in notebooks/09_ext_trust (text section).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import hooks
from . import rankcorr
from ..text import models as tm
from .leave_one_out import check_docs, loo_probs, sample_test_reviews  # noqa: F401 (this API)


@dataclass
class TokenScores:
    """Several importance scores over the same tokens of one sentence.

    Shapes:
        tokens: (T,); every value of ``scores``: (T,).
    """

    tokens: list[str]
    scores: dict[str, torch.Tensor] = field(default_factory=dict)


def correlate(items: Sequence[TokenScores], a: str, b: str,
              method: str = "kendall") -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence rank correlation of the scores named ``a`` and ``b``.

    Returns:
        ``(values, pvalues)``: Kendall's tau-b and its p-value, or Spearman's rho and NaN.

    Shapes:
        items: N sentences -> values, pvalues: (N,).
    """
    if method not in ("kendall", "spearman"):
        raise ValueError(f"method must be 'kendall' or 'spearman', got {method!r}")
    pairs = [(it.scores[a], it.scores[b]) for it in items]
    if method == "kendall":
        res = np.array([rankcorr.kendall_tau(x, y) for x, y in pairs]).reshape(-1, 2)  # (N, 2)
        return res[:, 0], res[:, 1]
    return np.array([rankcorr.spearman(x, y) for x, y in pairs]), np.full(len(pairs), np.nan)


# ----------------------------------------------------------------------------- rollout
def attention_rollout(attn: torch.Tensor, residual: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020).

    ``A_l = rownorm(mean_heads(attn_l) + I)``, ``rollout = A_L ... A_2 A_1``: row i says
    how much of the last layer's token i comes from each input token.

    Shapes:
        attn: (layers, heads, q, k) with q == k -> rollout: (q, k), rows sum to 1.
    """
    if attn.dim() != 4 or attn.shape[-1] != attn.shape[-2] or attn.shape[0] == 0:
        raise ValueError("attn must be (layers, heads, T, T) with layers >= 1, "
                         f"got {tuple(attn.shape)}")
    a = attn.detach().double().mean(1)  # (L, T, T)
    if residual:
        a = a + torch.eye(a.shape[-1], dtype=a.dtype)
    a = a / a.sum(-1, keepdim=True)  # (L, T, T)
    out = a[0]
    for layer in a[1:]:
        out = layer @ out  # (T, T)
    return out.to(attn.dtype)


# ----------------------------------------------------------------------------- the models
def gru_scores(model: tm.AttnGRUClassifier, vocab: tm.Vocab, docs: Sequence[Sequence[str]],
               batch_size: int = 100) -> list[TokenScores]:
    """Attention, leave-one-out and gradient x input of an AttnGRU classifier, per sentence.

    * ``attention``: the model's attention weights a_t;
    * ``loo``: ``p_c(x) - p_c(x without word t)``, the fall of the predicted class's
      **probability** when word t is deleted;
    * ``grad_input``: ``sum_e e_t,e * d logit_c / d e_t,e`` on the word embeddings,
      w.r.t. the predicted class's **logit**, via ``torch.autograd.grad`` (gradients
      flow through the attention too).

    Shapes:
        docs: N lists of T_n >= 2 words -> N items, each score (T_n,).
    """
    docs = check_docs(model, docs, 2)
    items: list[TokenScores] = [TokenScores(d) for d in docs]
    pred = torch.empty(len(docs), dtype=torch.long)
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        ids, mask = tm.make_batch([docs[i] for i in idx], vocab, add_cls=False)  # (B, T)
        with torch.enable_grad(), hooks.Capture(model.embed, detach=False) as cap:
            logits, weights = model(ids, mask)  # (B, 2), (B, T)
            emb = cap.acts["output"]  # (B, T, E), still in the graph
            if not emb.requires_grad:
                raise ValueError("the embedding must require grad for gradient x input")
            c = logits.argmax(1)  # (B,)
            (grads,) = torch.autograd.grad(logits.gather(1, c[:, None]).sum(), emb)  # (B, T, E)
        gxi = (grads * emb.detach()).sum(-1)  # (B, T)
        for k, i in enumerate(idx):
            t = len(docs[i])
            pred[i] = c[k]
            items[i].scores.update(attention=weights[k, :t].detach(), grad_input=gxi[k, :t],
                                   p=logits[k].detach().double().softmax(-1))
    probs, starts = loo_probs(model, vocab, docs)  # (sum T_n, 2)
    for i, it in enumerate(items):
        p0 = it.scores.pop("p")[pred[i]]
        it.scores["loo"] = p0 - probs[starts[i] : starts[i + 1], pred[i]]
    return items


@torch.no_grad()
def transformer_scores(model: tm.TinyTransformerClassifier, vocab: tm.Vocab,
                       docs: Sequence[Sequence[str]], batch_size: int = 100) -> list[TokenScores]:
    """Raw last-layer attention, rollout and leave-one-out of the tiny Transformer, per sentence.

    The model classifies from the last layer's ``[CLS]`` vector, so ``raw`` is the
    ``[CLS]`` row of the last layer (mean over heads) and ``rollout`` the ``[CLS]`` row
    of ``attention_rollout``, both over the words (``[CLS]`` column dropped); ``loo``
    is the fall of the predicted class's probability when a word is deleted.

    Shapes:
        docs: N lists of T_n >= 2 words -> N items, each score (T_n,).
    """
    docs = check_docs(model, docs, 2)
    items: list[TokenScores] = []
    for s in range(0, len(docs), batch_size):
        chunk = docs[s : s + batch_size]
        logits, attn = model(*tm.make_batch(chunk, vocab, add_cls=True))  # (B, 2), (B, L, H, T, T)
        for k, d in enumerate(chunk):
            a = attn[k, :, :, : len(d) + 1, : len(d) + 1]  # (L, H, T+1, T+1)
            c = int(logits[k].argmax())
            items.append(TokenScores(d, {"raw": a[-1].mean(0)[0, 1:], "c": torch.tensor(c),
                                         "rollout": attention_rollout(a)[0, 1:],
                                         "p": logits[k].double().softmax(-1)[c]}))
    probs, starts = loo_probs(model, vocab, docs)  # (sum T_n, 2)
    for i, it in enumerate(items):
        c = int(it.scores.pop("c"))
        it.scores["loo"] = it.scores.pop("p") - probs[starts[i] : starts[i + 1], c]
    return items


@torch.no_grad()
def minilm_scores(sentences: Sequence[str], model: Any = None,
                  tokenizer: Any = None) -> list[TokenScores]:
    """Raw last-layer attention, rollout and leave-one-out for MiniLM (no classifier), per sentence.

    MiniLM's sentence embedding is the **mean** of its last hidden states over all
    tokens, so each token's attention score is the mean over all query rows (of the
    last layer, heads averaged: ``raw``; of the rollout: ``rollout``). ``loo`` is
    ``1 - cos(embedding, embedding with token t deleted)``. Scores cover the word
    pieces only (``[CLS]``/``[SEP]`` columns dropped).

    Shapes:
        sentences: N strings of >= 2 word pieces -> N items, each score (T_n,).
    """
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both model and tokenizer, or neither (for MiniLM)")
    if model is None:
        from ..text import load_bert

        model, tokenizer = load_bert("minilm")
    if model.training:
        raise ValueError("put the model in eval mode (dropout would make the scores random)")
    items = []
    for text in sentences:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"sentences must be non-empty strings, got {text!r}")
        max_len = min(tokenizer.model_max_length, model.config.max_position_embeddings)
        ids = tokenizer(text, truncation=True, max_length=max_len)["input_ids"]  # [CLS] ... [SEP]
        t = len(ids) - 2
        if t < 2:
            raise ValueError(f"{text!r} has {t} word piece(s); leave-one-out needs at least 2")
        rows = [ids] + [ids[: j + 1] + ids[j + 2:] for j in range(t)]  # original, then drop word j
        batch = torch.full((len(rows), len(ids)), tokenizer.pad_token_id)  # (1 + t, T + 2)
        mask = torch.zeros_like(batch)
        for r, row in enumerate(rows):
            batch[r, : len(row)], mask[r, : len(row)] = torch.tensor(row), 1
        out = model(input_ids=batch, attention_mask=mask, output_attentions=True)
        if not out.attentions:
            raise ValueError("load the model with attn_implementation='eager' to get attention")
        m = mask[..., None]  # (1 + t, T + 2, 1)
        emb = (out.last_hidden_state * m).sum(1) / m.sum(1)  # (1 + t, D): mean pooling
        attn = torch.stack(out.attentions)[:, 0].float()  # (layers, heads, T+2, T+2)
        loo = 1 - torch.nn.functional.cosine_similarity(emb[1:], emb[:1])  # (t,)
        items.append(TokenScores(tokenizer.convert_ids_to_tokens(ids[1:-1]), {
            "raw": attn[-1].mean(0).mean(0)[1:-1], "rollout": attention_rollout(attn).mean(0)[1:-1],
            "loo": loo}))
    return items
