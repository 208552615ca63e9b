"""LRP against zennit and RISE against torchray and bare forward passes, in one run.

Same model (the bundled EfficientNet-Lite0), same images, same classes (each
image's top-1), CPU: one image and a batch of 8. Each call is timed end to end
as a caller gets it.

- LRP: ours (``helpers.attribution.lrp``: a copy with BatchNorm folded, rules as
  autograd functions) against zennit's ``Gradient`` attributor with the same
  composite (``EpsilonPlus`` for ``zplus``, ``Epsilon`` everywhere for
  ``epsilon``, ``EpsilonAlpha2Beta1`` for ``alpha2beta1``) and the canonizers
  zennit needs for this model (BatchNorm pairs, residual sums:
  tests/zennit_oracle.py); zennit registers and removes them on every call,
  as a caller would. zennit works on the model itself (it restores it on
  exit); its merged BatchNorms keep ``eps`` (``x / sqrt(1 + 1e-3)``), so the
  two relevances differ slightly here (the test removes that, see tests/test_lrp.py).
- RISE: of the project's peers none has it (captum 0.9, zennit 0.5, torchcam,
  pytorch-grad-cam do not). torchray 1.0.0.2 (Facebook Research, 2019, no release
  since) has ``torchray.attribution.rise``; it is not a project dependency (its
  requirements pull pycocotools and pymongo, which its RISE does not use), so it is
  timed only when importable (``pip install --no-deps torchray==1.0.0.2``), else
  the column reads "-". Same mask count and batch size; its RISE scores every
  class at once (a sigmoid of the logits, one ``(classes, masks) x (masks, H*W)``
  product per batch), draws its own masks (reflection-padded upsampling) and loops
  over the images; ``rise_class`` then picks each image's class. The floor of any
  implementation is also timed: the same number of masked copies through the
  model in the same batches, without making masks or summing maps;
  ``ours / floor`` is RISE's own overhead.

Calls alternate between the sides (who goes first rotates), so a
busy machine slows them alike. Printed: medians, ratios (below 1: ours is
faster) and, for LRP, the largest difference between the two relevances
relative to zennit's largest value. Nothing is asserted.

Usage:
    .venv/bin/python benchmarks/bench_lrp_rise.py [--repeats 3] [--masks 64]
        [--rules zplus,epsilon] [--threads 1] [--batches 1 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")

from timing import median_ms, print_result  # noqa: E402

from helpers import attribution as attr  # noqa: E402
from helpers import list_images, load_image, load_model  # noqa: E402
from helpers.attribution.rise import mask_grids, upsample_masks  # noqa: E402
from helpers.hooks import count_hooks  # noqa: E402

BATCHES = (1, 8)
COMPOSITES = {"zplus": "EpsilonPlus", "epsilon": "Epsilon (all layers)",
              "alpha2beta1": "EpsilonAlpha2Beta1"}


def interleaved(*fns: Callable[[], object], repeats: int) -> list[float]:
    """Medians (ms) of ``repeats`` alternating calls of each (the first caller rotates)."""
    times: list[list[float]] = [[] for _ in fns]
    for r in range(repeats):
        for k in range(len(fns)):
            i = (k + r) % len(fns)
            times[i].append(median_ms(lambda _, fn=fns[i]: fn(), repeats=1, warmup=0))
    return [statistics.median(t) for t in times]


def torchray_rise() -> Callable | None:
    """``torchray.attribution.rise.rise_class`` if torchray is installed, else ``None``."""
    try:
        from torchray.attribution.rise import rise_class
    except ImportError:
        return None
    return rise_class


def bench_lrp(model, x, classes, rules, repeats) -> list[tuple]:
    from zennit_oracle import lite0_canonizers, lrp_named, zennit_relevance

    rows = []
    for rule in rules:
        def ours():
            return lrp_named(model, x, classes, rule).raw

        def theirs():
            return zennit_relevance(model, x, classes, rule, on_copy=False,
                                    canonizers=lite0_canonizers(model))

        a, b = ours().reshape(x.shape), theirs()  # warm-up, and the difference
        diff = float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
        t_ours, t_peer = interleaved(ours, theirs, repeats=repeats)
        assert count_hooks(model) == 0, "a side left hooks on the model"
        rows.append((rule, x.shape[0], t_ours, t_peer, diff))
        print(f"  lrp {rule:<12s} batch {x.shape[0]}: ours {t_ours:9.1f} ms, zennit "
              f"{t_peer:9.1f} ms", flush=True)
    return rows


def bench_rise(model, x, classes, masks, repeats, batch_size=64) -> tuple:
    h, w = x.shape[-2:]

    def ours():
        return attr.rise(model, x, classes, count=masks, batch_size=batch_size).raw

    fixed = upsample_masks(*mask_grids(masks), (h, w))  # (M, H, W)

    def floor():  # the same masked copies, already made, through the model
        with torch.no_grad():
            for i in range(0, len(x) * masks, batch_size):
                j = torch.arange(i, min(i + batch_size, len(x) * masks))
                model(x[j // masks] * fixed[j % masks][:, None])

    sides = [ours, floor]
    peer = torchray_rise()
    if peer is not None:
        sides.append(lambda: peer(model, x, target=classes, num_masks=masks,
                                  batch_size=batch_size))
    for side in sides:
        side()  # warm-up
    t_ours, t_floor, *t_peer = interleaved(*sides, repeats=repeats)
    t_peer = t_peer[0] if t_peer else None
    print(f"  rise {masks} masks batch {x.shape[0]}: ours {t_ours:9.1f} ms, forward passes only "
          f"{t_floor:9.1f} ms, torchray {'-' if t_peer is None else f'{t_peer:.1f} ms'}",
          flush=True)
    return x.shape[0], t_ours, t_floor, t_peer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per side")
    parser.add_argument("--masks", type=int, default=64, help="RISE masks per image")
    parser.add_argument("--rules", default="zplus,epsilon", help="comma-separated LRP rules")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; 0 keeps torch's default)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = [r for r in args.rules.split(",") if r]

    bundle = load_model("efficientnet_lite0", source="bundled", device="cpu")
    model = bundle.model
    names = (list_images() * 8)[:max(args.batches)]
    images = torch.cat([bundle.to_input(load_image(name)) for name in names])  # (8, 3, 224, 224)
    print(f"bundled EfficientNet-Lite0, CPU, torch threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}; images {names}; LRP rules {rules}; RISE {args.masks} "
          f"masks per image, 64 copies per pass (torchray "
          f"{'installed' if torchray_rise() else 'not installed'}); median of {args.repeats} "
          f"interleaved calls after one warm-up call")
    lrp_rows, rise_rows = [], []
    for n in args.batches:
        x = images[:n]
        with torch.no_grad():
            classes = model(x).argmax(dim=1).tolist()
        lrp_rows += bench_lrp(model, x, classes, rules, args.repeats)
        rise_rows.append(bench_rise(model, x, classes, args.masks, args.repeats))

    print(f"\n{'method':<18s} {'batch':>5s} {'ours ms':>10s} {'zennit ms':>10s} "
          f"{'ours/zennit':>11s} {'max diff':>9s}")
    for rule, n, t_ours, t_peer, diff in lrp_rows:
        print(f"{'lrp ' + rule:<18s} {n:5d} {t_ours:10.1f} {t_peer:10.1f} "
              f"{t_ours / t_peer:11.2f} {diff:9.1e}")
    print(f"\n{'method':<18s} {'batch':>5s} {'ours ms':>10s} {'floor ms':>10s} {'ours/floor':>11s}"
          f" {'ms/copy':>9s} {'torchray ms':>12s} {'ours/torchray':>14s}")
    for n, t_ours, t_floor, t_peer in rise_rows:
        peer = ("-", "-") if t_peer is None else (f"{t_peer:.1f}", f"{t_ours / t_peer:.2f}")
        print(f"{'rise ' + str(args.masks):<18s} {n:5d} {t_ours:10.1f} {t_floor:10.1f} "
              f"{t_ours / t_floor:11.2f} {t_ours / (n * args.masks):9.2f} {peer[0]:>12s} "
              f"{peer[1]:>14s}")
    print("\nours/zennit, ours/torchray below 1 mean ours is faster; floor: the masked copies' "
          "forward passes alone, so ours/floor is RISE's overhead; torchray '-': not installed.")
    for rule, n, t_ours, t_peer, _ in lrp_rows:
        print_result(attribution_method=f"lrp {rule}", batch=n, ours_ms=round(t_ours, 2),
                     peer=f"zennit {COMPOSITES[rule]}", peer_ms=round(t_peer, 2))
    for n, t_ours, t_floor, t_peer in rise_rows:
        print_result(rise_batch=n, rise_masks=args.masks, rise_ms=round(t_ours, 2),
                     forward_floor_ms=round(t_floor, 2))
        if t_peer is not None:
            print_result(attribution_method=f"rise {args.masks} masks", batch=n,
                         ours_ms=round(t_ours, 2), peer="torchray rise_class",
                         peer_ms=round(t_peer, 2))


if __name__ == "__main__":
    main()
