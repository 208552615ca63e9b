"""Exercise checks of 9.3: right answers pass; stubs, constants, copies and typical bugs fail."""

from __future__ import annotations

import math

import numpy as np
import torch

from helpers.text import models as tm
from check_helpers import assert_rejects, run
from grader import references as refs
from helpers.exercises import attention as ex


def test_masked_softmax(capsys):
    def right(scores, mask):
        e = torch.exp(scores - scores.max(-1, keepdim=True).values) * mask  # (N, T)
        return e / e.sum(-1, keepdim=True)

    ok, out = run(ex.check_masked_softmax, right, capsys)
    assert ok and "✓" in out
    assert_rejects(ex.check_masked_softmax, [
        lambda s, m: s.softmax(-1),  # the mask forgotten
        lambda s, m: s.softmax(-1) * m,  # masked after the softmax: rows no longer sum to 1
        lambda s, m: s.masked_fill(~m, float("-inf")).softmax(0),  # the wrong dimension
        lambda s, m: s,  # a copy of the input
        lambda s, m: m.float() / m.sum(-1, keepdim=True),  # uniform over the words
        lambda s, m: torch.zeros_like(s),
    ], capsys)


def test_masked_softmax_inputs_have_padding_and_rows_sum_to_one():
    scores, mask = ex._scores_mask(np.random.default_rng(0))
    assert (~mask).any() and mask.any(-1).all()
    w = refs.ref_masked_softmax(scores, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(len(w)))
    assert (w[~mask] == 0).all()


def test_next_token_head(capsys):
    def right(attn, layer):
        a = attn[layer]  # (H, T, T)
        t = a.shape[-1]
        scores = [sum(float(a[h, i, i + 1]) for i in range(t - 1)) for h in range(a.shape[0])]
        return int(np.argmax(scores))

    ok, out = run(ex.check_next_token_head, right, capsys)
    assert ok and "✓" in out
    assert_rejects(ex.check_next_token_head, [
        lambda a, layer: int(a[layer].diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1).argmax()),
        lambda a, layer: int(a[layer].diagonal(dim1=-2, dim2=-1).mean(-1).argmax()),  # itself
        lambda a, layer: int(a[0].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1).argmax()),
        lambda a, layer: int(a[-1].diagonal(offset=1, dim1=-2, dim2=-1).mean(-1).argmax()),
        lambda a, layer: int(a.mean(0).diagonal(offset=1, dim1=-2, dim2=-1).mean(-1).argmax()),
        lambda a, layer: 0,  # a constant
        lambda a, layer: layer,  # a copy of the input
    ], capsys)


def test_next_token_head_answer_is_computed_and_changes():
    make = ex._planted_heads()
    rng = np.random.default_rng(1)
    answers = [refs.ref_next_token_head(*make(rng)) for _ in range(3)]
    assert len(set(answers)) == 3
    attn, layer = make(rng)
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))


def test_favoured_word(capsys):
    def right(model, vocab, words):
        ids = torch.tensor([vocab.encode(words)])
        h = model.states(ids, ids != 0)
        scores = model.attn_v(torch.tanh(model.attn_proj(h)))[0, :, 0]  # (T,)
        return words[int(scores.argmax())]

    ok, out = run(ex.check_favoured_word, right, capsys)
    assert ok and "✓" in out

    def weights(model, vocab, words):
        ids, mask = tm.make_batch([words], vocab, add_cls=False)
        return model(ids, mask)[1][0]

    assert_rejects(ex.check_favoured_word, [
        lambda m, v, w: w[0],  # the first word
        lambda m, v, w: w[-1],
        lambda m, v, w: w[int(weights(m, v, w).argmin())],  # the least attended
        lambda m, v, w: w[::-1][int(weights(m, v, w).argmax())],  # indexed from the end
        lambda m, v, w: w[int(weights(m, v, w)[:-1].argmax()) + 1],  # off by one
        lambda m, v, w: "词0",  # a constant
        lambda m, v, w: w,  # a copy of the input
    ], capsys)


def test_favoured_word_is_not_always_at_the_same_place():
    rng = np.random.default_rng(2)
    places = set()
    for _ in range(6):
        model, vocab, words = ex._classifier_sentence(rng)
        places.add(words.index(refs.ref_favoured_word(model, vocab, words)))
    assert len(places) >= 3


def test_attention_probs(capsys):
    def right(q, k, n_heads):
        d = q.shape[1] // n_heads
        return torch.stack([
            torch.softmax(q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T / math.sqrt(d), -1)
            for h in range(n_heads)])

    ok, out = run(ex.check_attention_probs, right, capsys)
    assert ok and "✓" in out
    assert_rejects(ex.check_attention_probs, [
        lambda q, k, n: torch.softmax(q @ k.T / math.sqrt(q.shape[1]), -1).expand(n, -1, -1),
        lambda q, k, n: right(q * math.sqrt(q.shape[1] // n) / math.sqrt(q.shape[1]), k, n),
        lambda q, k, n: right(q * math.sqrt(q.shape[1] // n), k, n),  # no scaling
        lambda q, k, n: right(q, k, n).transpose(-1, -2),  # softmax over the queries
        lambda q, k, n: right(k, q, n),  # Q and K swapped
        lambda q, k, n: q,  # a copy
        lambda q, k, n: torch.full((n, q.shape[0], q.shape[0]), 1.0 / q.shape[0]),
    ], capsys)
