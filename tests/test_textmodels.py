"""Tests for helpers.text.models and scripts/train_text_models.py.

Tiny seeded models are checked against independent computations (a packed
bidirectional ``nn.GRU``, attention recomputed by hand from the weights); the
shipped weights are checked against the accuracies in text_metrics.json.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from helpers.text import models as tm

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    ids = torch.randint(3, 40, (3, 7))  # (N, T)
    ids[0, 4:] = 0  # padding
    ids[2, 1:] = 0
    return ids, ids != 0


@pytest.fixture
def gru() -> tm.AttnGRUClassifier:
    torch.manual_seed(0)
    return tm.AttnGRUClassifier(40, emb_dim=8, hidden=6, attn_dim=5).eval()


@pytest.fixture
def transformer() -> tm.TinyTransformerClassifier:
    torch.manual_seed(0)
    model = tm.TinyTransformerClassifier(40, d_model=16, n_heads=4, n_layers=3, d_ff=32, max_len=10)
    return model.eval()


def test_split_is_deterministic_disjoint_and_big_enough() -> None:
    a, b = tm.split_corpus(), tm.split_corpus()
    assert a == b
    texts = {k: {t for t, _ in v} for k, v in a.items()}
    assert not texts["train"] & texts["val"]
    assert not texts["train"] & texts["test"]
    assert not texts["val"] & texts["test"]
    n = sum(len(v) for v in a.values())
    assert len(a["test"]) >= 0.1 * n and {y for _, y in a["test"]} == {0, 1}
    assert tm.split_corpus(seed=1)["test"] != a["test"]
    assert [len(v) for v in tm.split_corpus(subset=8).values()] == [8, 2, 2]


def test_vocab_specials_order_and_unknown_words() -> None:
    vocab = tm.Vocab.build([["好", "书", "好"], ["书", "差", "好"], ["差"]], min_freq=2)
    assert vocab.itos == [tm.PAD, tm.UNK, tm.CLS, "好", "书", "差"]  # count, then the word
    assert vocab.encode(["好", "没见过"]) == [3, 1]
    assert len(tm.Vocab.build([["a", "a", "b", "b", "c", "c"]], max_size=4)) == 4


def test_make_batch_truncates_pads_and_adds_cls() -> None:
    vocab = tm.Vocab([tm.PAD, tm.UNK, tm.CLS, "a", "b"])
    ids, mask = tm.make_batch([["a", "b", "a"], ["b"]], vocab, add_cls=True, max_words=2)
    assert ids.tolist() == [[2, 3, 4], [2, 4, 0]]
    assert mask.tolist() == [[True, True, True], [True, True, False]]
    with pytest.raises(ValueError, match="empty"):
        tm.make_batch([[]], vocab, add_cls=False)


def test_reverse_within_length_keeps_padding_in_place() -> None:
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]]).bool()
    assert tm.reverse_within_length(mask).tolist() == [[2, 1, 0, 3], [0, 1, 2, 3]]


def test_gru_states_equal_a_packed_bidirectional_gru(gru, batch) -> None:
    ids, mask = batch
    ref = torch.nn.GRU(8, 6, batch_first=True, bidirectional=True)
    state = dict(gru.gru_fwd.state_dict())
    state.update({k + "_reverse": v for k, v in gru.gru_bwd.state_dict().items()})
    ref.load_state_dict(state)
    packed = pack_padded_sequence(gru.embed(ids), mask.sum(1), batch_first=True,
                                  enforce_sorted=False)
    expected = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=ids.shape[1])[0]
    torch.testing.assert_close(gru.states(ids, mask), expected)


def test_gru_logits_come_from_the_weighted_sum_of_states(gru, batch) -> None:
    ids, mask = batch
    logits, weights = gru(ids, mask)
    assert weights.shape == ids.shape and logits.shape == (3, 2)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert (weights[~mask] == 0).all()
    pooled = (weights[..., None] * gru.states(ids, mask)).sum(1)  # (N, 2H)
    torch.testing.assert_close(logits, gru.head(pooled))
    # a short sentence gives the same result alone as when padded in a batch
    alone_logits, alone_w = gru(ids[2:, :1], mask[2:, :1])
    torch.testing.assert_close(alone_logits, logits[2:])
    torch.testing.assert_close(alone_w, weights[2:, :1])


def test_transformer_attention_shape_rows_and_padding(transformer, batch) -> None:
    ids, mask = batch
    logits, attn = transformer(ids, mask)
    assert logits.shape == (3, 2)
    assert attn.shape == (3, 3, 4, 7, 7)  # (N, layers, heads, q, k)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 3, 4, 7))
    assert (attn.permute(0, 4, 1, 2, 3)[~mask] == 0).all()  # no attention to padded keys
    with pytest.raises(ValueError, match="max_len=10"):
        transformer(torch.ones(1, 11, dtype=torch.long), torch.ones(1, 11, dtype=torch.bool))


def test_transformer_attention_equals_softmax_qk_by_hand(transformer, batch) -> None:
    ids, mask = batch
    attn = transformer(ids, mask)[1]
    x = transformer.embed(ids) + transformer.pos.weight[: ids.shape[1]]  # (N, T, D)
    for i, layer in enumerate(transformer.layers):
        h = layer.ln1(x)
        w, b = layer.attn.qkv.weight, layer.attn.qkv.bias
        d = h.shape[-1]
        q, k = h @ w[:d].T + b[:d], h @ w[d : 2 * d].T + b[d : 2 * d]  # (N, T, D)
        for head in range(4):
            sl = slice(head * 4, head * 4 + 4)
            scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(4)  # (N, T, T)
            scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
            torch.testing.assert_close(attn[:, i, head], torch.softmax(scores, -1))
        x = layer(x, mask)[0]


@pytest.mark.parametrize("kind", tm.KINDS)
def test_load_shipped_model(kind) -> None:
    model, vocab = tm.load_text_model(kind)
    assert not model.training and model.embed.num_embeddings == len(vocab)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    probs = tm.predict(model, vocab, [["这", "本书", "很", "好"], ["太", "差", "了"], ["好"]])
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    with pytest.raises(ValueError, match="kind must be one of"):
        tm.load_text_model("lstm")


def _train_script():
    path = ROOT / "scripts" / "train_text_models.py"
    spec = importlib.util.spec_from_file_location("train_text_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_is_reproducible_on_a_subset(tmp_path) -> None:
    from helpers import text

    train = _train_script()
    args = ["--subset", "48", "--epochs", "1", "--quiet", "--no-baseline"]
    metrics = [train.main(args + ["--out", str(tmp_path / run)]) for run in ("a", "b")]
    assert metrics[0]["split_sizes"] == {"train": 48, "val": 12, "test": 12}
    for kind in tm.KINDS:
        a, b = (torch.load(tmp_path / run / f"{kind}.pt", weights_only=True) for run in ("a", "b"))
        assert a["config"] == b["config"]
        assert a["state_dict"].keys() == b["state_dict"].keys()
        for name in a["state_dict"]:
            assert torch.equal(a["state_dict"][name], b["state_dict"][name]), name
        assert metrics[0][kind]["test_acc"] == metrics[1][kind]["test_acc"]
        # the evaluation path of helpers.text agrees with the training script
        acc = text.evaluate_shipped(kind, tmp_path / "a")
        assert acc == pytest.approx(metrics[0][kind]["test_acc"], abs=1e-4)


@pytest.mark.parametrize("kind", tm.KINDS)
def test_shipped_weights_reproduce_text_metrics(kind) -> None:
    from helpers import text

    metrics = json.loads((tm.MODEL_DIR / "text_metrics.json").read_text(encoding="utf-8"))
    assert text.evaluate_shipped(kind) == pytest.approx(metrics[kind]["test_acc"], abs=1e-4)
