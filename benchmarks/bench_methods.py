"""CAM family latency: each method of helpers.cam.METHODS next to the peers that have it.

Same model (the bundled EfficientNet-Lite0, layer ``bn2``), same images, same
classes, same device; one image and a batch of 8. Every call is timed end to end:
forward, backward, weights, weighted sum, ReLU, upsampling to 224x224 and min-max
(a peer that returns the low-resolution map gets a bilinear upsample and min-max).
Rounds interleave the implementations, so a busy machine slows them alike; each
peer's hooks live only inside its round. ``corr`` is the mean correlation of each
peer's maps with ours. Plain inference (``torch.no_grad``) is printed for scale: the
gradient methods' floor, since our backward pass stops at the layer.

Peers: pytorch-grad-cam (all six methods), torchcam (GradCAM, GradCAMpp, XGradCAM,
LayerCAM, ScoreCAM; it has no HiRes-CAM, and its SmoothGradCAMpp has no
counterpart here), captum (LayerGradCam only). torchcam's GradCAMpp and our
Grad-CAM++ differ in definition (its alpha denominator sums ``A * g^3`` over the
map, and its in-place division on a masked copy leaves alpha = g^2), so expect a
lower ``corr`` there.

Eigen-CAM and Ablation-CAM have one peer, pytorch-grad-cam (``EigenCAM``, ``AblationCAM``;
its Eigen-CAM sign is LAPACK's, ours correlates with the channel mean, so ``corr`` can be
negative on an image where they differ). Ablation-CAM scores one copy per channel (1280 of
``bn2``) and image in both; pytorch-grad-cam runs the whole network on each (minutes per
image), ours only the layers after ``bn2`` (``helpers.cam.tail``). It is timed like
Score-CAM; its peer is called once in all, that call timed and read for ``corr``.

Score-CAM is timed at equal work: ours with ``max_channels=K`` (the ``K`` most
varied maps of 1280); pytorch-grad-cam and torchcam, which have no cap, score the
same ``K`` maps per image (through pytorch-grad-cam's ``reshape_transform`` and by
replacing torchcam's captured activations). Its time grows linearly with ``K``. Being
slow, it gets half the rounds, one call each, and a warm-up in the first round only.

Nothing about time is asserted.

Usage:
    .venv/bin/python benchmarks/bench_methods.py [--rounds 5] [--calls 2] [--threads 1]
        [--batches 1 8] [--score-channels 16] [--methods grad_cam ...] [--device cpu|cuda]
        [--no-peers ablation_cam ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
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

from helpers import cam, list_images, load_image, load_model  # noqa: E402
from helpers.arrays import minmax  # noqa: E402
from helpers.hooks import count_hooks  # noqa: E402
from timing import print_result, timed_calls  # noqa: E402

PGC = {"grad_cam": "GradCAM", "grad_cam_pp": "GradCAMPlusPlus", "xgrad_cam": "XGradCAM",
       "hires_cam": "HiResCAM", "layer_cam": "LayerCAM", "score_cam": "ScoreCAM",
       "eigen_cam": "EigenCAM", "ablation_cam": "AblationCAM"}
TORCHCAM = {"grad_cam": "GradCAM", "grad_cam_pp": "GradCAMpp", "xgrad_cam": "XGradCAM",
            "layer_cam": "LayerCAM", "score_cam": "ScoreCAM"}
CAPTUM = {"grad_cam": "LayerGradCam"}
FLOOR = "(inference only, no_grad)"  # for scale, not a peer
SLOW = ("score_cam", "ablation_cam")  # half the rounds, one call, warm-up in round 1 only
ONCE = ("ablation_cam",)  # its peers: one call in all, timed and read for corr (minutes each)

Setup = Callable[[], Callable[[], np.ndarray]]


def _up_minmax(m: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """``(N, h, w)`` maps to ``(N, H, W)``: bilinear upsampling and min-max per map."""
    up = F.interpolate(m.detach().float()[:, None], size=size, mode="bilinear",
                       align_corners=False)[:, 0]  # (N, H, W)
    return minmax(up, dims=(1, 2)).cpu().numpy()


def _gather(acts: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Per image, the channels ``keep[n]``: ``(N, C, h, w)`` -> ``(N, K, h, w)``."""
    return acts.gather(1, keep[:, :, None, None].expand(-1, -1, *acts.shape[2:]))


def implementations(name: str, model, layer_name: str, x: torch.Tensor, classes: list[int],
                    k: int) -> dict[str, tuple[Setup, Callable]]:
    """``{label: (setup, teardown)}``; ``setup()`` returns a function computing ``(N, H, W)``."""
    layer = model.get_submodule(layer_name)
    size = tuple(x.shape[-2:])
    opts = {"max_channels": k} if name == "score_cam" else {}
    keep = None
    if name == "score_cam":  # the K channels ours scores, per image
        res = cam.score_cam(model, layer, x, classes, max_channels=k)
        keep = torch.stack([w.nonzero()[:, 0] for w in res.weights])  # (N, K)
    out: dict[str, tuple[Setup, Callable]] = {}
    method = cam.METHODS[name]
    out["ours"] = (lambda: (lambda: method(model, layer, x, classes, **opts).cam),
                   lambda run: None)

    def pgc():
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        reshape = None if keep is None else (lambda a: _gather(a, keep))
        ext = getattr(pytorch_grad_cam, PGC[name])(model=model, target_layers=[layer],
                                                   reshape_transform=reshape)
        if name == "score_cam":
            ext.batch_size = 16  # its default
        targets = [ClassifierOutputTarget(c) for c in classes]

        def run():
            with contextlib.redirect_stderr(io.StringIO()):  # Score-CAM's tqdm bars
                return ext(input_tensor=x, targets=targets)

        run.ext = ext
        return run

    def pgc_close(run):
        run.ext.activations_and_grads.release()
        model.zero_grad(set_to_none=True)  # it calls backward(): parameter grads pile up

    out[f"pytorch-grad-cam {PGC[name]}"] = (pgc, pgc_close)

    if name in TORCHCAM:
        def tcam():
            import torchcam.methods

            ext = getattr(torchcam.methods, TORCHCAM[name])(model, target_layer=layer_name,
                                                            input_shape=tuple(x.shape[1:]))

            def run():
                scores = model(x)  # (N, classes)
                if keep is not None:
                    ext.hook_a = [_gather(ext.hook_a[0], keep)]
                m = ext(class_idx=classes, scores=scores, normalized=False)[0]  # (N, h, w)
                return _up_minmax(F.relu(m), size)

            run.ext = ext
            return run

        def tcam_close(run):
            run.ext.remove_hooks()
            model.zero_grad(set_to_none=True)

        out[f"torchcam {TORCHCAM[name]}"] = (tcam, tcam_close)

    if name in CAPTUM:
        def captum():
            from captum.attr import LayerGradCam

            explainer = LayerGradCam(model, layer)
            return lambda: _up_minmax(explainer.attribute(
                x, target=classes, relu_attributions=True)[:, 0], size)

        out[f"captum {CAPTUM[name]}"] = (captum, lambda run: model.zero_grad(set_to_none=True))

    def floor():
        def run():
            with torch.no_grad():
                return np.zeros((len(x), *size), dtype=np.float32) + model(x).sum().item()

        return run

    if name != "score_cam":
        out[FLOOR] = (floor, lambda run: None)
    return out


def time_all(impls, rounds: int, calls: int, device, ref: np.ndarray, model, warm: bool = True,
             once: tuple[str, ...] = ()):
    """Median ms per implementation and mean correlation with ``ref``; ``warm=False`` warms
    up (and reads the maps for ``corr``) in the first round only, for slow methods; a label
    in ``once`` is called once in all, without warm-up: that call is timed and read."""
    times: dict[str, list[float]] = {label: [] for label in impls}
    corr: dict[str, float] = {}

    def read(maps) -> float:
        pairs = zip(np.asarray(maps).reshape(ref.shape), ref)
        return float(np.mean([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in pairs]))

    for _ in range(rounds):
        for label, (setup, teardown) in impls.items():
            if label in once and label in corr:
                continue
            run = setup()
            try:
                got: list = []
                if label in once:
                    times[label] += timed_calls(lambda: got.append(run()), 1, device)
                elif warm or label not in corr:
                    got.append(run())  # warm-up, the maps for corr
                if got:
                    corr[label] = read(got[0])
                if label not in once:
                    times[label] += timed_calls(run, calls, device)
            finally:
                teardown(run)
            assert count_hooks(model) == 0, f"{label} left hooks on the model"
    return {label: 1e3 * statistics.median(t) for label, t in times.items()}, corr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2, help="timed calls per round")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steadier on a shared machine)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--score-channels", type=int, default=16)
    parser.add_argument("--methods", nargs="+", default=list(cam.METHODS))
    parser.add_argument("--no-peers", nargs="*", default=[], metavar="METHOD",
                        help="methods timed without their peers (ours and inference only)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)

    bundle = load_model("efficientnet_lite0", source="bundled", device=args.device)
    model, device, layer_name = bundle.model, bundle.device, bundle.gradcam_layer_name
    images = [bundle.to_input(load_image(n)) for n in list_images()]
    images += [im.flip(-1) for im in images]  # 12 distinct inputs
    print(f"model efficientnet_lite0, layer {layer_name!r}, device {device.type}, torch threads "
          f"{torch.get_num_threads()}, torch {torch.__version__}; Score-CAM at "
          f"{args.score_channels} channels per image; {args.rounds} rounds x {args.calls} calls")
    print(f"\n{'method':<12s} {'N':>2s} {'implementation':<34s} {'median ms':>10s} "
          f"{'ours / it':>9s} {'corr':>7s}")
    rows = []
    for n in args.batches:
        x = torch.cat([images[i % len(images)] for i in range(n)])  # (N, 3, 224, 224)
        with torch.no_grad():
            classes = model(x).argmax(dim=1).tolist()
        for name in args.methods:
            impls = implementations(name, model, layer_name, x, classes, args.score_channels)
            if name in args.no_peers:
                impls = {k: v for k, v in impls.items() if k in ("ours", FLOOR)}
            ref = np.asarray(impls["ours"][0]()()).reshape(n, *x.shape[-2:])
            slow = name in SLOW
            once = tuple(label for label in impls if label not in ("ours", FLOOR)
                         ) if name in ONCE else ()
            med, corr = time_all(impls, max(1, args.rounds // 2) if slow else args.rounds,
                                 1 if slow else args.calls, device, ref, model, warm=not slow,
                                 once=once)
            corr.pop(FLOOR, None)
            peers = [label for label in med if label not in ("ours", FLOOR)]
            for label, ms in med.items():
                r = f"{corr[label]:.4f}" if label in corr else "-"
                print(f"{name:<12s} {n:>2d} {label:<34s} {ms:10.1f} {med['ours'] / ms:9.2f} "
                      f"{r:>7s}", flush=True)
            if peers:
                fastest = min(peers, key=med.get)
                rows.append({"method": name, "batch": n, "ours_ms": round(med["ours"], 1),
                             "fastest_peer": fastest, "fastest_peer_ms": round(med[fastest], 1)})
    print("\nours / fastest peer (below 1: ours is faster):")
    for r in rows:
        print(f"  {r['method']:<12s} N={r['batch']:<2d} {r['ours_ms']:8.1f} ms vs "
              f"{r['fastest_peer_ms']:8.1f} ms ({r['fastest_peer']}): "
              f"{r['ours_ms'] / r['fastest_peer_ms']:.2f}")
    print_result(cam_methods=rows)


if __name__ == "__main__":
    main()
