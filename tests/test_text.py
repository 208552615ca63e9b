"""Tests for helpers.text: attention extraction, highlighting, special-token stripping.

A tiny seeded ``BertConfig`` model (as in bertviz's tests) is checked against
attention recomputed by hand; the real MiniLM and the shipped Chinese models
only where it is cheap.
"""

from __future__ import annotations

import math

import pytest
import torch

from helpers import text
from helpers.text import models as tm

def test_tiny_bert_attention_shape_rows_and_tokens(tiny_bert) -> None:
    model, tokenizer = tiny_bert
    attn, tokens = text.attention_from_bert("The cat sat on the mat.", model, tokenizer)
    assert tokens == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    cfg = model.config
    assert attn.shape == (cfg.num_hidden_layers, cfg.num_attention_heads, len(tokens), len(tokens))
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))


@torch.no_grad()
def test_tiny_bert_attention_equals_softmax_qk_by_hand(tiny_bert) -> None:
    model, tokenizer = tiny_bert
    attn, tokens = text.attention_from_bert("the cat sat", model, tokenizer)
    ids = torch.tensor([tokenizer.convert_tokens_to_ids(tokens)])
    h = model.embeddings(input_ids=ids)  # (1, T, D)
    sa = model.encoder.layer[0].attention.self
    q, k = sa.query(h)[0], sa.key(h)[0]  # (T, D)
    d_head = h.shape[-1] // 4
    for head in range(4):
        sl = slice(head * d_head, (head + 1) * d_head)
        expected = torch.softmax(q[:, sl] @ k[:, sl].T / math.sqrt(d_head), -1)
        torch.testing.assert_close(attn[0, head], expected)


def test_sdpa_model_is_switched_to_eager(tiny_bert) -> None:
    model, tokenizer = tiny_bert
    model.set_attn_implementation("sdpa")
    try:
        attn, _tokens = text.attention_from_bert("the cat", model, tokenizer)
        assert attn.shape == (2, 4, 4, 4)
    finally:
        model.set_attn_implementation("eager")


def test_long_text_is_truncated_with_a_warning(tiny_bert) -> None:
    model, tokenizer = tiny_bert
    with pytest.warns(UserWarning, match="truncated to the model's maximum of 16"):
        attn, tokens = text.attention_from_bert("the cat sat on the mat " * 10, model, tokenizer)
    assert attn.shape[-1] == 16 and tokens[-1] == "[SEP]"


@pytest.mark.parametrize("bad", ["", "   \n\t"])
def test_empty_text_is_rejected(tiny_bert, bad) -> None:
    model, tokenizer = tiny_bert
    for call in (lambda: text.attention_from_bert(bad, model, tokenizer),
                 lambda: text.attention_from_tiny_transformer(bad),
                 lambda: text.word_attention(bad)):
        with pytest.raises(ValueError, match="non-empty, non-whitespace"):
            call()


def test_model_without_tokenizer_is_rejected(tiny_bert) -> None:
    with pytest.raises(ValueError, match="both model and tokenizer"):
        text.attention_from_bert("the cat", model=tiny_bert[0])


def test_minilm_attention_from_the_wheel() -> None:
    model, _tokenizer = text.load_bert("minilm")
    assert text.load_bert("minilm")[0] is model  # cached
    attn, tokens = text.attention_from_bert("The cat sat on the mat.")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "cat" in tokens
    assert attn.shape == (6, 12, len(tokens), len(tokens))
    torch.testing.assert_close(attn.sum(-1), torch.ones(6, 12, len(tokens)))


def test_bert_base_chinese_offline_fails_fast_and_clearly(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        text.load_bert("bert-base-chinese")
    except RuntimeError as err:
        assert "minilm" in str(err)
    # (if bert-base-chinese is in the local cache, loading it is fine too)
    with pytest.raises(ValueError, match="'minilm' or 'bert-base-chinese'"):
        text.load_bert("gpt2")


def test_tiny_transformer_attention_of_a_chinese_sentence() -> None:
    attn, tokens = text.attention_from_tiny_transformer("这本书写得很好，推荐！")
    model, _ = tm.load_text_model("transformer")
    assert tokens[0] == "[CLS]" and tokens[1:] == tm.tokenize("这本书写得很好，推荐！")
    assert attn.shape == (len(model.layers), model.layers[0].attn.n_heads, len(tokens), len(tokens))
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))


def test_word_attention_of_a_chinese_sentence() -> None:
    words, weights, probs = text.word_attention("质量太差了，很失望")
    assert words == tm.tokenize("质量太差了，很失望") and weights.shape == (len(words),)
    torch.testing.assert_close(weights.sum(), torch.tensor(1.0))
    torch.testing.assert_close(probs.sum(), torch.tensor(1.0))


def test_long_chinese_text_is_truncated_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=f"truncated to the first {tm.MAX_WORDS}"):
        words, weights, _ = text.word_attention("很好。" * 100)
    assert len(words) == tm.MAX_WORDS == len(weights)


def test_strip_special_removes_cls_sep_and_renormalizes() -> None:
    torch.manual_seed(0)
    attn = torch.rand(2, 3, 5, 5).softmax(-1)  # (layers, heads, q, k)
    tokens = ["[CLS]", "a", "b", "c", "[SEP]"]
    out, kept = text.strip_special(attn, tokens)
    assert kept == ["a", "b", "c"]
    torch.testing.assert_close(out, attn[..., 1:4, 1:4])
    renorm, _ = text.strip_special(attn, tokens, renormalize=True)
    torch.testing.assert_close(renorm.sum(-1), torch.ones(2, 3, 3))
    torch.testing.assert_close(renorm, out / out.sum(-1, keepdim=True))
    with pytest.raises(ValueError, match="5 tokens"):
        text.strip_special(attn[..., :4, :4], tokens)
    with pytest.raises(ValueError, match="all 2 tokens are special"):
        text.strip_special(attn[..., :2, :2], ["[CLS]", "[SEP]"])
