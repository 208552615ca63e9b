"""Grad-CAM latency: helpers.cam.grad_cam against three peer libraries, in one run.

Same model (the bundled EfficientNet-Lite0, target layer ``bn2``), same image,
same class, same device. Every method is timed end to end for one image: forward,
backward, channel weights, weighted sum, ReLU, upsampling to 224x224 and min-max
(the peers' own post-processing, plus a bilinear upsample where a peer returns the
low-resolution map). Rounds interleave the methods so that a busy machine slows
all of them alike; each peer's hooks live only inside its round.

Also printed, for scale: plain inference (``torch.no_grad``), which is the floor,
and the correlation of each peer's map with ours (they compute the same thing).

Nothing about time is asserted. One image ``(1, 3, H, W)``, as the notebooks and
the explorer use it; batches and the other CAM methods: ``bench_methods.py``.

Usage:
    .venv/bin/python benchmarks/bench_gradcam.py [--rounds 5] [--calls 4] [--image cat]
        [--threads 1] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")

from helpers import cam, load_image, load_model  # noqa: E402
from helpers.hooks import count_hooks  # noqa: E402
from timing import timed_calls  # noqa: E402

Method = Callable[[], np.ndarray]


def _minmax_up(m: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a (h, w) map to ``size`` and min-max, as ours does."""
    up = F.interpolate(m.detach()[None, None].float(), size=size, mode="bilinear",
                       align_corners=False)[0, 0]  # (H, W)
    up = (up - up.min()) / (up.max() - up.min() + 1e-12)
    return up.cpu().numpy()


def make_methods(model, layer_name: str, x: torch.Tensor, c: int):
    """``{name: (setup, teardown)}``; setup returns a function that computes one map."""
    layer = model.get_submodule(layer_name)
    size = tuple(x.shape[-2:])
    methods = {}

    def ours():
        return lambda: cam.grad_cam(model, layer, x, c).cam

    methods["helpers.cam.grad_cam"] = (ours, lambda obj: None)

    def pgc():
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        extractor = GradCAM(model=model, target_layers=[layer])
        targets = [ClassifierOutputTarget(c)]
        run = lambda: extractor(input_tensor=x, targets=targets)[0]  # noqa: E731
        run.extractor = extractor
        return run

    def pgc_close(run):
        run.extractor.activations_and_grads.release()
        model.zero_grad(set_to_none=True)  # it calls backward(): parameter grads pile up

    methods["pytorch-grad-cam GradCAM"] = (pgc, pgc_close)

    def tcam():
        from torchcam.methods import GradCAM

        extractor = GradCAM(model, target_layer=layer_name)

        def run():
            scores = model(x)  # (1, classes)
            m = extractor(class_idx=c, scores=scores)[0][0]  # (h, w), already min-max
            return _minmax_up(m, size)

        run.extractor = extractor
        return run

    methods["torchcam GradCAM"] = (tcam, lambda run: run.extractor.remove_hooks())

    def captum():
        from captum.attr import LayerGradCam

        explainer = LayerGradCam(model, layer)

        def run():
            m = explainer.attribute(x, target=c, relu_attributions=True)[0, 0]  # (h, w)
            return _minmax_up(m, size)

        return run

    methods["captum LayerGradCam"] = (captum, lambda run: model.zero_grad(set_to_none=True))

    def floor():
        def run():
            with torch.no_grad():
                model(x)
            return None

        return run

    methods["(inference only, no_grad)"] = (floor, lambda run: None)
    return methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=4, help="timed calls per method per round")
    parser.add_argument("--image", default="cat")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steadier on a shared machine; "
                             "0 keeps torch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)

    bundle = load_model("efficientnet_lite0", source="bundled", device=args.device)
    model, device = bundle.model, bundle.device
    x = bundle.to_input(load_image(args.image))  # (1, 3, 224, 224)
    ref = cam.grad_cam(model, bundle.gradcam_layer_name, x)
    c = ref.class_idx
    print(f"image {args.image!r}, class {c} ({bundle.categories[c]}), layer "
          f"{bundle.gradcam_layer_name!r}, device {device.type}, torch threads "
          f"{torch.get_num_threads()}, torch {torch.__version__}")

    methods = make_methods(model, bundle.gradcam_layer_name, x, c)
    times: dict[str, list[float]] = {name: [] for name in methods}
    corr: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (setup, teardown) in methods.items():
            run = setup()
            try:
                out = run()  # warm-up, and the map for the correlation
                if out is not None and name not in corr:
                    corr[name] = float(np.corrcoef(np.asarray(out).ravel(), ref.cam.ravel())[0, 1])
                times[name] += timed_calls(run, args.calls, device)
            finally:
                teardown(run)
            assert count_hooks(model) == 0, f"{name} left hooks on the model"

    ours = statistics.median(times["helpers.cam.grad_cam"])
    peers = [n for n in methods if not n.startswith(("helpers", "("))]
    fastest = min(peers, key=lambda n: statistics.median(times[n]))
    print(f"\n{'method':<28s} {'median ms':>10s} {'÷ ours':>8s} {'corr':>8s}")
    for name in methods:
        med = statistics.median(times[name])
        r = f"{corr[name]:.4f}" if name in corr else "-"
        print(f"{name:<28s} {med * 1e3:10.1f} {med / ours:8.2f} {r:>8s}")
    print(f"\n{len(times[fastest])} timed calls per method. Fastest peer: {fastest}; "
          f"ours / fastest peer = {ours / statistics.median(times[fastest]):.2f} "
          f"(below 1 means ours is faster).")
    print("Batch of 8 and the other CAM methods: benchmarks/bench_methods.py.")
    # One machine-readable line for benchmarks/run_all.py.
    print("RESULT " + json.dumps({"gradcam_ours_ms": round(ours * 1e3, 2), "fastest_peer": fastest,
                                  "fastest_peer_ms": round(statistics.median(times[fastest]) * 1e3, 2)}))


if __name__ == "__main__":
    main()
