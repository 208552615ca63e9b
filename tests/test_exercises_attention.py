"""Exercise checks of 9.3: right answers pass; stubs, constants, copies and typical bugs fail."""

from __future__ import annotations

import math

import numpy as np
import torch

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


def test_rollout(capsys):
    def right(attn):  # layer by layer, written out with explicit loops over rows
        t = attn.shape[-1]
        out = torch.eye(t)
        for layer in attn:
            a = layer.mean(dim=0) + torch.eye(t)
            a = torch.stack([row / row.sum() for row in a])
            out = a @ out
        return out

    ok, out = run(ex.check_rollout, right, capsys)
    assert ok and "✓" in out

    def steps(attn, residual=True):
        a = attn.mean(dim=1) + (torch.eye(attn.shape[-1]) if residual else 0)
        return a / a.sum(dim=-1, keepdim=True)

    def product(mats, first_on_the_left=False):
        out = torch.eye(mats.shape[-1])
        for m in mats:
            out = out @ m if first_on_the_left else m @ out
        return out

    assert_rejects(ex.check_rollout, [
        lambda a: product(steps(a), first_on_the_left=True),  # the wrong order
        lambda a: product(steps(a, residual=False)),  # no residual
        lambda a: product(a.mean(dim=1) + torch.eye(a.shape[-1])),  # not renormalized
        lambda a: steps(a)[-1],  # the last layer only
        lambda a: a[-1, 0],  # one head of the last layer
        lambda a: torch.eye(a.shape[-1]),
    ], capsys)


def test_rollout_reference_is_the_librarys_and_differs_from_the_last_layer():
    from helpers.trust import attention as attn_trust

    rng = np.random.default_rng(3)
    for _ in range(4):
        (attn,) = ex._layered_attention(rng)
        r = refs.ref_rollout(attn)
        torch.testing.assert_close(r, attn_trust.attention_rollout(attn))
        torch.testing.assert_close(r.sum(-1), torch.ones(attn.shape[-1]))
        assert not torch.allclose(r, attn[-1].mean(dim=0), atol=1e-2)


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
