"""Pixel attribution latency: each helpers.attribution method against captum's, in one run.

Same model (the bundled EfficientNet-Lite0), same images, same classes (each
image's top-1), same settings on both sides, CPU: one image and a batch of 8.
Each method is timed end to end as a caller gets it (ours includes the channel
reduction and min-max of the map, captum returns the raw attribution only).

Matched settings (both libraries):
- SmoothGrad: ``--samples`` noisy copies; 16 rows per forward pass (captum:
  ``nt_samples_batch_size = 16 // N``). Ours sets sigma per image, captum one for the
  batch (from the whole batch's value range): for one image both draw the same noise
  (captum after ``torch.manual_seed(0)``), for the batch the cat image (range 1.68
  instead of 2) gets a smaller sigma from ours.
- Integrated Gradients: ``--steps`` Gauss-Legendre points, zero baseline, 16 rows per
  pass (captum: ``internal_batch_size=16``), no completeness gap on either side (ours:
  ``completeness=False``; its default adds one pass of 2N images without gradients).
- Occlusion: ``--window`` square patches with stride = window, baseline 0, 32 rows
  per pass (captum: ``perturbations_per_eval = 32 // N``).
- Guided Backprop and Guided Grad-CAM (layer ``bn2``, bilinear upsampling): the
  model uses ``nn.ReLU6``, which captum's GuidedBackprop leaves unguided; captum is
  timed on a copy whose ReLU6s are ``nn.ReLU`` + ``clamp(max=6)``, which gives the same
  guided result as ours (tests/test_attribution.py checks it).

The calls alternate between the two libraries (who goes first alternates too), so
a busy machine slows both alike. Printed per method and batch: medians,
``ours / captum`` (below 1: ours is faster) and the largest difference between the
two raw attributions relative to captum's largest value (Guided Grad-CAM differs by
design: ours multiplies by the min-max scaled Grad-CAM map). Nothing is asserted.

Usage:
    .venv/bin/python benchmarks/bench_attribution.py [--repeats 3] [--samples 8]
        [--steps 8] [--window 56] [--threads 1] [--only saliency,occlusion]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")

from timing import median_ms, print_result  # noqa: E402

from helpers import attribution as attr  # noqa: E402
from helpers import list_images, load_image, load_model  # noqa: E402
from helpers.hooks import count_hooks  # noqa: E402

BATCHES = (1, 8)


class ReLU6AsReLU(nn.ReLU):
    """ReLU6 as an nn.ReLU (which captum's GuidedBackprop guides) followed by ``min(., 6)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).clamp(max=6.0)


def relu6_as_relu(model: nn.Module) -> nn.Module:
    twin = copy.deepcopy(model)
    for parent in list(twin.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, nn.ReLU6):
                parent._modules[name] = ReLU6AsReLU()
    return twin


def make_pairs(model: nn.Module, layer: str, x: torch.Tensor, classes: list[int],
               args: argparse.Namespace) -> dict[str, tuple[str, Callable, Callable]]:
    """``{method: (captum name, ours, captum)}``; each callable returns a raw attribution."""
    from captum.attr import (GuidedBackprop, GuidedGradCam, IntegratedGradients, NoiseTunnel,
                             Occlusion, Saliency)

    n = x.shape[0]
    twin = relu6_as_relu(model)
    sigma = 0.15 * float(x.max() - x.min())  # one sigma for captum: ours is per image
    w = args.window

    def ours(name: str, **opts):
        return lambda: attr.ATTRIBUTIONS[name](model, x, classes, **opts).raws

    return {
        "saliency": ("Saliency", ours("saliency"),
                     lambda: Saliency(model).attribute(x, target=classes, abs=False)),
        "smoothgrad": ("NoiseTunnel(Saliency)",
                       ours("smoothgrad", samples=args.samples, batch_size=16),
                       lambda: NoiseTunnel(Saliency(model)).attribute(
                           x, nt_type="smoothgrad", nt_samples=args.samples, stdevs=sigma,
                           nt_samples_batch_size=max(1, 16 // n), target=classes, abs=False)),
        "guided_backprop": ("GuidedBackprop", ours("guided_backprop"),
                            lambda: GuidedBackprop(twin).attribute(x, target=classes)),
        "guided_grad_cam": ("GuidedGradCam", ours("guided_grad_cam", layer=layer),
                            lambda: GuidedGradCam(twin, twin.get_submodule(layer)).attribute(
                                x, target=classes, interpolate_mode="bilinear")),
        "integrated_gradients": ("IntegratedGradients",
                                 ours("integrated_gradients", steps=args.steps, batch_size=16,
                                      completeness=False),
                                 lambda: IntegratedGradients(model).attribute(
                                     x, target=classes, n_steps=args.steps,
                                     method="gausslegendre", internal_batch_size=16)),
        "occlusion": ("Occlusion", ours("occlusion", window=w, stride=w, batch_size=32),
                      lambda: Occlusion(model).attribute(
                          x, sliding_window_shapes=(3, w, w), strides=(3, w, w), baselines=0.0,
                          target=classes, perturbations_per_eval=max(1, 32 // n))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per method")
    parser.add_argument("--samples", type=int, default=8, help="SmoothGrad samples")
    parser.add_argument("--steps", type=int, default=8, help="Integrated Gradients steps")
    parser.add_argument("--window", type=int, default=56, help="occlusion window = stride")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; 0 keeps torch's default)")
    parser.add_argument("--only", default="", help="comma-separated method names")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)

    bundle = load_model("efficientnet_lite0", source="bundled", device="cpu")
    model, layer = bundle.model, bundle.gradcam_layer_name
    names = (list_images() * 8)[:max(BATCHES)]
    images = torch.cat([bundle.to_input(load_image(name)) for name in names])  # (8, 3, 224, 224)
    print(f"bundled EfficientNet-Lite0, CPU, torch threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}; images {names}; SmoothGrad samples {args.samples}, "
          f"IG steps {args.steps} (gausslegendre), occlusion window = stride {args.window}, "
          f"Guided Grad-CAM layer {layer!r}; median of {args.repeats} interleaved calls after one "
          f"warm-up call")
    only = set(filter(None, args.only.split(",")))

    rows = []
    for n in BATCHES:
        x = images[:n]
        with torch.no_grad():
            classes = model(x).argmax(dim=1).tolist()
        for method, (peer, ours, theirs) in make_pairs(model, layer, x, classes, args).items():
            if only and method not in only:
                continue
            a = ours().detach()
            torch.manual_seed(0)  # SmoothGrad: captum then draws our noise (seed=0)
            b = theirs().detach().reshape(-1, *x.shape[1:])
            diff = float((a.reshape(b.shape) - b).abs().max() / b.abs().max().clamp_min(1e-12))
            times: tuple[list[float], list[float]] = ([], [])
            for r in range(args.repeats):  # interleaved, alternating who goes first
                order = [(times[0], ours), (times[1], theirs)]
                for store, fn in order if r % 2 == 0 else order[::-1]:
                    store.append(median_ms(lambda i, fn=fn: fn(), repeats=1, warmup=0))
            t_ours, t_peer = statistics.median(times[0]), statistics.median(times[1])
            model.zero_grad(set_to_none=True)  # captum leaves no .grad, but be sure
            assert count_hooks(model) == 0, f"{method} left hooks on the model"
            rows.append((method, n, peer, t_ours, t_peer, diff))
            print(f"  {method:<22s} batch {n}: ours {t_ours:9.1f} ms, captum {peer} "
                  f"{t_peer:9.1f} ms", flush=True)

    print(f"\n{'method':<22s} {'batch':>5s} {'ours ms':>10s} {'captum ms':>10s} "
          f"{'ours/captum':>11s} {'max diff':>9s}")
    for method, n, peer, t_ours, t_peer, diff in rows:
        print(f"{method:<22s} {n:5d} {t_ours:10.1f} {t_peer:10.1f} {t_ours / t_peer:11.2f} "
              f"{diff:9.1e}")
    print("\nours/captum below 1 means ours is faster; max diff: largest |ours - captum| over "
          "captum's largest |value| (Guided Grad-CAM: ours uses the min-max scaled Grad-CAM; "
          "SmoothGrad batch 8: one sigma in captum, one per image in ours).")
    for method, n, peer, t_ours, t_peer, _ in rows:
        print_result(attribution_method=method, batch=n, ours_ms=round(t_ours, 2),
                     peer=f"captum {peer}", peer_ms=round(t_peer, 2))


if __name__ == "__main__":
    main()
