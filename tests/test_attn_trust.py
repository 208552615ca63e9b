"""Tests for helpers.trust.rankcorr and helpers.trust.attention: rank correlations, rollout, token scores.

Rank correlations are checked on hand-made rankings and against scipy.stats;
rollout against matrices multiplied out by hand; gradient x input against a
central finite difference; leave-one-out against one unbatched forward pass per
deleted word. All models are tiny and seeded.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from helpers.trust import attention as at
from helpers import hooks
from helpers.trust import rankcorr as rc
from helpers.text import models as tm
from peers import require



@pytest.fixture(scope="module")
def stats():
    return require("scipy.stats")  # the peer library (tests/peers.py)

WORDS = [f"w{i}" for i in range(30)]


# ----------------------------------------------------------------------------- rank correlations
def test_kendall_and_spearman_on_hand_made_rankings() -> None:
    a = [0.1, 0.4, 0.2, 0.9]
    assert rc.kendall_tau(a, a)[0] == pytest.approx(1.0)
    assert rc.kendall_tau(a, [-v for v in a])[0] == pytest.approx(-1.0)
    assert rc.spearman(a, a) == pytest.approx(1.0)
    assert rc.spearman(a, [-v for v in a]) == pytest.approx(-1.0)
    # exact p of a perfect ranking of n items: 2 / n! (two-sided)
    assert rc.kendall_tau([1, 2, 3], [1, 2, 3])[1] == pytest.approx(2 / 6)
    assert rc.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1])[1] == pytest.approx(2 / 24)
    # one tie in a: pairs (+, +, +, 0, +, +): S = 5, tau_b = 5 / sqrt((6 - 1) * 6)
    assert rc.kendall_tau([1, 2, 2, 3], [1, 2, 3, 4])[0] == pytest.approx(5 / math.sqrt(30))
    # ranks (1, 2.5, 2.5, 4) and (1, 2, 3, 4): rho = 4.5 / sqrt(4.5 * 5)
    assert rc.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_constant_scores_give_nan() -> None:
    assert all(math.isnan(v) for v in rc.kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(rc.spearman([1, 2, 3], [5, 5, 5]))


@pytest.mark.parametrize("seed", range(6))
def test_rank_correlations_match_scipy(seed: int, stats) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    a = rng.normal(size=n)
    b = a + rng.normal(scale=2.0, size=n)
    ai, bi = rng.integers(0, 5, n), rng.integers(0, 4, n)  # many ties
    msg = f"seed {seed}, n {n}"
    tau, p = rc.kendall_tau(a, b)
    ref = stats.kendalltau(a, b, method="exact")
    assert tau == pytest.approx(ref.statistic, abs=1e-12), msg
    assert p == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-300), msg
    tau, p = rc.kendall_tau(ai, bi)
    ref = stats.kendalltau(ai, bi, method="asymptotic")
    if math.isnan(ref.statistic):
        assert math.isnan(tau), msg
    else:
        assert tau == pytest.approx(ref.statistic, abs=1e-12), msg
        assert p == pytest.approx(ref.pvalue, rel=1e-9), msg
    assert rc.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12), msg
    assert rc.spearman(ai, bi) == pytest.approx(stats.spearmanr(ai, bi).statistic, abs=1e-12), msg


def test_rank_correlation_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        rc.kendall_tau([], [])
    with pytest.raises(ValueError, match="one length"):
        rc.spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        rc.kendall_tau([1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match="method"):
        at.correlate([], "a", "b", method="pearson")


def test_summarize_by_hand() -> None:
    s = rc.summarize([0.1, 0.5, float("nan"), 0.3, -0.2], [0.01, 0.2, 0.0, 0.04, 0.001])
    assert s["n"] == 4 and s["mean"] == pytest.approx(0.175)
    assert s["median"] == pytest.approx(0.2)
    assert s["sig_frac"] == pytest.approx(2 / 4)  # 0.1 and 0.3; -0.2 is significant but negative
    with pytest.raises(ValueError, match="no finite"):
        rc.summarize([float("nan")])


# ----------------------------------------------------------------------------- rollout
def test_rollout_by_hand() -> None:
    l1 = torch.tensor([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])  # (heads, q, k)
    l2 = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]] * 2)
    # layer 1: mean [[.5, .5], [.5, .5]] + I, rows renormalized -> [[.75, .25], [.25, .75]]
    a1 = torch.tensor([[0.75, 0.25], [0.25, 0.75]])
    assert torch.allclose(at.attention_rollout(l1[None]), a1)
    assert torch.allclose(at.attention_rollout(l1[None], residual=False), torch.full((2, 2), 0.5))
    # layer 2: [[1, 0], [1, 0]] + I -> [[1, 0], [.5, .5]]; rollout = A2 @ A1 (not A1 @ A2)
    expected = torch.tensor([[0.75, 0.25], [0.5, 0.5]])
    assert torch.allclose(at.attention_rollout(torch.stack([l1, l2])), expected)


def test_rollout_bad_shape() -> None:
    with pytest.raises(ValueError, match="layers, heads, T, T"):
        at.attention_rollout(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match="layers, heads, T, T"):
        at.attention_rollout(torch.rand(1, 2, 3, 4))


# ----------------------------------------------------------------------------- the models
@pytest.fixture
def vocab() -> tm.Vocab:
    return tm.Vocab(list(tm.SPECIALS) + WORDS)


@pytest.fixture
def docs() -> list[list[str]]:
    rng = np.random.default_rng(0)  # distinct words within each document
    return [[WORDS[i] for i in rng.permutation(len(WORDS))[:n]] for n in (5, 2, 8, 3)]


@pytest.fixture
def gru() -> tm.AttnGRUClassifier:
    torch.manual_seed(0)
    return tm.AttnGRUClassifier(len(WORDS) + 3, emb_dim=8, hidden=6, attn_dim=5).eval()


def _alone(model: torch.nn.Module, vocab: tm.Vocab, words: list[str], cls: bool):
    with torch.no_grad():
        return model(*tm.make_batch([words], vocab, add_cls=cls))  # unbatched, unpadded


def test_gru_leave_one_out_and_attention_one_by_one(gru, vocab, docs) -> None:
    items = at.gru_scores(gru, vocab, docs, batch_size=3)  # batches mix lengths
    for d, it in zip(docs, items, strict=True):
        logits, weights = _alone(gru, vocab, d, cls=False)
        c = int(logits.argmax())
        p0 = logits[0].double().softmax(-1)[c]
        drops = [p0 - _alone(gru, vocab, d[:t] + d[t + 1:], False)[0][0].double().softmax(-1)[c]
                 for t in range(len(d))]
        assert it.tokens == d
        assert torch.allclose(it.scores["attention"], weights[0], atol=1e-6)
        assert torch.allclose(it.scores["loo"], torch.stack(drops), atol=1e-6)


def test_gru_gradient_x_input_is_a_directional_derivative(gru, vocab, docs) -> None:
    model = copy.deepcopy(gru).double()
    items = at.gru_scores(model, vocab, docs)
    eps = 1e-5
    for d, it in zip(docs, items, strict=True):
        c = int(_alone(model, vocab, d, False)[0].argmax())
        fd = []
        for w in d:  # d/de logit_c((1 + e) * embedding of w) at e = 0 == sum_e x * grad
            logit = []
            for s in (1 + eps, 1 - eps):
                m = copy.deepcopy(model)
                with torch.no_grad():
                    m.embed.weight[vocab.stoi[w]] *= s
                logit.append(_alone(m, vocab, d, False)[0][0, c])
            fd.append((logit[0] - logit[1]) / (2 * eps))
        assert torch.allclose(it.scores["grad_input"], torch.stack(fd), atol=1e-6, rtol=1e-5)


def test_gru_scores_leave_no_hooks_no_grads_and_same_weights(gru, vocab, docs) -> None:
    before = {k: v.clone() for k, v in gru.state_dict().items()}
    with torch.no_grad():  # gradient x input must still work
        at.gru_scores(gru, vocab, docs)
    assert hooks.count_hooks(gru) == 0
    assert all(p.grad is None for p in gru.parameters())
    assert all(torch.equal(before[k], v) for k, v in gru.state_dict().items())
    gru.embed.weight.requires_grad_(False)  # fails inside the hook context
    with pytest.raises(ValueError, match="require grad"):
        at.gru_scores(gru, vocab, docs)
    assert hooks.count_hooks(gru) == 0


def test_bad_sentences_and_training_mode(gru, vocab) -> None:
    with pytest.raises(ValueError, match="empty sentence"):
        at.gru_scores(gru, vocab, [["w1", "w2"], []])
    with pytest.raises(ValueError, match="at least 2"):
        at.gru_scores(gru, vocab, [["w1"]])
    with pytest.raises(ValueError, match="no sentences"):
        at.transformer_scores(gru, vocab, [])
    with pytest.raises(ValueError, match="eval mode"):
        at.gru_scores(gru.train(), vocab, [["w1", "w2"]])
    with pytest.raises(ValueError, match="min_words"):
        at.sample_test_reviews(10, min_words=1)


def test_transformer_scores_one_by_one(vocab, docs) -> None:
    torch.manual_seed(0)
    model = tm.TinyTransformerClassifier(len(vocab), d_model=16, n_heads=2, n_layers=2,
                                         d_ff=32, max_len=10).eval()
    items = at.transformer_scores(model, vocab, docs, batch_size=3)
    for d, it in zip(docs, items, strict=True):
        logits, attn = _alone(model, vocab, d, cls=True)  # (1, 2), (1, L, H, T, T)
        c = int(logits.argmax())
        a = attn[0].mean(1)  # (L, T, T)
        a2 = (a[1] + torch.eye(len(d) + 1)) / 2  # rows of a sum to 1, so + I halves them
        a1 = (a[0] + torch.eye(len(d) + 1)) / 2
        assert torch.allclose(it.scores["raw"], a[-1, 0, 1:], atol=1e-6)
        assert torch.allclose(it.scores["rollout"], (a2 @ a1)[0, 1:], atol=1e-6)
        p0 = logits[0].double().softmax(-1)[c]
        drops = [p0 - _alone(model, vocab, d[:t] + d[t + 1:], True)[0][0].double().softmax(-1)[c]
                 for t in range(len(d))]
        assert torch.allclose(it.scores["loo"], torch.stack(drops), atol=1e-6)


def test_minilm_scores_on_a_tiny_bert(tiny_bert) -> None:
    model, tokenizer = tiny_bert
    sentences = ["the cat sat on the mat.", "the cat sat"]
    items = at.minilm_scores(sentences, model, tokenizer)

    def embed(ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_attentions=True)
        return out.last_hidden_state[0].mean(0), torch.stack(out.attentions)[:, 0]

    for s, it in zip(sentences, items, strict=True):
        ids = tokenizer(s)["input_ids"]
        assert it.tokens == tokenizer.tokenize(s)
        e0, attn = embed(ids)  # (D,), (L, H, T, T)
        loo = [1 - torch.cosine_similarity(e0, embed(ids[:j] + ids[j + 1:])[0], dim=0)
               for j in range(1, len(ids) - 1)]
        assert torch.allclose(it.scores["loo"], torch.stack(loo), atol=1e-5)
        assert torch.allclose(it.scores["raw"], attn[-1].mean(0).mean(0)[1:-1], atol=1e-6)
    with pytest.raises(ValueError, match="non-empty"):
        at.minilm_scores(["  "], model, tokenizer)
    with pytest.raises(ValueError, match="at least 2"):
        at.minilm_scores(["cat"], model, tokenizer)


def test_correlate_matches_per_sentence_calls(stats) -> None:
    rng = np.random.default_rng(3)
    items = [at.TokenScores([str(i) for i in range(n)], {"x": torch.tensor(rng.normal(size=n)),
                                                         "y": torch.tensor(rng.normal(size=n))})
             for n in (4, 7, 12)]
    tau, p = at.correlate(items, "x", "y")
    rho, _ = at.correlate(items, "x", "y", method="spearman")
    for k, it in enumerate(items):
        ref = stats.kendalltau(it.scores["x"], it.scores["y"])
        assert tau[k] == pytest.approx(ref.statistic) and p[k] == pytest.approx(ref.pvalue)
        assert rho[k] == pytest.approx(stats.spearmanr(it.scores["x"], it.scores["y"]).statistic)


def test_gru_gradient_x_input_matches_captum(gru, vocab, docs) -> None:
    captum_attr = require("captum.attr")  # the peer library (tests/peers.py)
    items = at.gru_scores(gru, vocab, docs)
    ids, mask = tm.make_batch(docs, vocab, add_cls=False)  # (N, T)
    with torch.no_grad():
        target = gru(ids, mask)[0].argmax(1)  # (N,)
    method = captum_attr.LayerGradientXActivation(lambda i, m: gru(i, m)[0], gru.embed)
    ref = method.attribute(ids, target=target, additional_forward_args=(mask,)).sum(-1)  # (N, T)
    for k, it in enumerate(items):
        assert torch.allclose(it.scores["grad_input"], ref[k, : len(it.tokens)], atol=1e-6)
    assert hooks.count_hooks(gru) == 0
