"""Train the toy networks of known reasoning and the ``vgg`` head variants on the CPU.

Kinds (see :mod:`helpers.toy.variants`):

* ``vgg_nopool``, ``vgg_pool_linear``, ``vgg_linear``: the ``vgg`` backbone with another
  head, trained exactly as ``scripts/train_shapes.py`` trains ``vgg`` (same images, same
  seeds, same recipe), so that each differs from ``vgg`` in its head only.
* ``marker_shape``, ``marker_hans``, ``marker_both``: the ``gap`` architecture on
  :func:`helpers.toy.markers.make_marker_batch` one-object images from seed 0
  (``--n-marker`` images); the label is the shape's class (marker random), the
  marker's class (shape random) or both (they agree).

Held-out accuracy on seed 1: head variants as in ``train_shapes.py``; marker nets on
1,000 images with an independent marker (scored by the label the net was trained on)
and 1,000 with an agreeing one. Writes ``<kind>.pt`` (float32 state dicts) and merges
into ``toy_metrics.json`` in ``--out`` (default ``data/models/``).

Deterministic: fixed seeds, one CPU thread, ``torch.use_deterministic_algorithms``.
The kinds may run as separate processes at once::

    for k in vgg_nopool vgg_pool_linear vgg_linear marker_shape marker_hans marker_both; do
        python scripts/train_toy_nets.py --kinds $k & done; wait
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_shapes  # noqa: E402
from helpers.toy import nets as shapenets, world as shapes  # noqa: E402
from helpers.toy import markers, variants  # noqa: E402

HELDOUT_SEED = 1
N_MARKER = 4000
HELDOUT_MARKER = 1000


def marker_set(n: int, seed: int, label: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images, one-hot targets ``(N, 6)`` and labels ``(N,)`` for a marker net's task."""
    batch = markers.make_marker_batch(n, seed, agree=(label == "both"))
    y = batch.marker_labels if label == "marker" else batch.shape_labels
    return batch.images, torch.nn.functional.one_hot(y, len(shapes.CLASSES)).float(), y


def top1(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    pred = shapenets.predict_classes(net, images)[:, 0]
    return round(float((pred == labels).float().mean()), 4)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=shapenets.MODEL_DIR)
    ap.add_argument("--kinds", nargs="+", default=list(variants.TOY_KINDS),
                    choices=variants.TOY_KINDS)
    ap.add_argument("--steps", type=int, default=train_shapes.TRAIN["steps"])
    ap.add_argument("--n-marker", type=int, default=N_MARKER)
    ap.add_argument("--check", action="store_true", help="60 steps, small sets, a temp folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cfg = dict(train_shapes.TRAIN, steps=args.steps, n_marker=args.n_marker)
    heldout_n = dict(train_shapes.HELDOUT, marker=HELDOUT_MARKER)
    if args.check:
        cfg.update(steps=60, n_single=300, n_double=150, n_marker=300)
        heldout_n = {"single": 200, "double": 100, "marker": 200}
        args.out = Path(tempfile.mkdtemp(prefix="toy_check_"))
    args.out.mkdir(parents=True, exist_ok=True)
    metrics: dict = {"threads": 1, "torch": torch.__version__,
                     "train": cfg, "heldout_seed": HELDOUT_SEED}
    for kind in args.kinds:
        t0 = time.perf_counter()
        if kind in variants.HEADS:
            images, targets, counts = train_shapes.training_set(cfg["n_single"], cfg["n_double"])
            heldout = {"single": shapes.make_batch(heldout_n["single"], HELDOUT_SEED, objects=1),
                       "double": shapes.make_batch(heldout_n["double"], HELDOUT_SEED, objects=2)}
            res = train_shapes.train(kind, images, targets, cfg, seed=0,
                                     build=variants.build_toy_net)
            scores = train_shapes.evaluate(res["net"], images, targets, counts, heldout)
        else:
            label = variants.MARKER_NETS[kind]
            images, targets, y = marker_set(cfg["n_marker"], shapes.TRAIN_SEED, label)
            res = train_shapes.train(kind, images, targets, cfg, seed=0,
                                     build=variants.build_toy_net)
            scores = {"train": top1(res["net"], images, y)}
            for agree in (False, True):
                b = markers.make_marker_batch(heldout_n["marker"], HELDOUT_SEED, agree=agree)
                y_ho = b.marker_labels if label == "marker" else b.shape_labels
                scores["heldout_agree" if agree else "heldout_independent"] = \
                    top1(res["net"], b.images, y_ho)
        torch.save(res["net"].state_dict(), args.out / f"{kind}.pt")
        metrics[kind] = {"parameters": sum(p.numel() for p in res["net"].parameters()), **scores,
                         "train_seconds": res["seconds"], "history": res["history"]}
        print(f"{kind}: {scores} ({time.perf_counter() - t0:.0f} s)", flush=True)
    train_shapes.write_metrics(args.out / "toy_metrics.json", metrics, args.kinds)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
