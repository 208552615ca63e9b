"""The helpers on a GPU against the same calls on the CPU (run where CUDA is; prints, writes JSON).

What a teacher with a GPU gets: ``load_model(device="auto")`` puts the model on CUDA, and
every map must then be the CPU's map up to float rounding. For the same inputs on both
devices this runs

* every CAM method and pixel attribution of ``attribution.every_map`` on the bundled
  EfficientNet-Lite0 (two course photos), and the CAM family on ResNet18 with seeded random
  weights (the textbook's architecture; its published weights cannot be fetched there);
* the same on the toy ``vgg`` net (8 held-out images), the reliance table of the marker nets
  (accuracy under each intervention), a feature visualization and the dissection of the
  toy ``gap`` net's last block;

and compares maps normalized to [0, 1] (largest difference and correlation), predicted classes
and accuracies, checks that the results come back as CPU arrays and that no hook is left.
A comparison that misses its bound is a failure: exit status 1. RISE draws its masks and
SmoothGrad its noise on the CPU, so a seed gives the same map on both devices. Convolutions
run in full float32, as ``helpers.setup()`` sets in every notebook; ``--tf32`` keeps PyTorch's
default (cuDNN may use TF32), under which pixel attributions miss the bounds.

Usage: python scripts/cuda_check.py [--out DIR] [--tf32]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers import attribution, cam, hooks, images, load_model  # noqa: E402
from helpers.channels import dissect, fv  # noqa: E402
from helpers.channels.concepts import toy_concepts  # noqa: E402
from helpers.channels.layers import toy_layers  # noqa: E402
from helpers.toy import markers, variants  # noqa: E402
from helpers.toy import world as shapes  # noqa: E402
from helpers.trust import reliance  # noqa: E402

GPU = "cuda"  # the device compared with the CPU (--device)
MAP_CORR = 0.99  # a map on the GPU against the CPU's: correlation at least
MAP_DIFF = 0.05  # and largest difference at most (maps in [0, 1]; cuDNN convolutions use TF32)
OPTIONS = {
    "occlusion": {"window": 32, "stride": 32},
    "integrated_gradients": {"steps": 16},
    "smoothgrad": {"samples": 8},
    "rise": {"count": 200},
}
TOY_OPTIONS = {
    "occlusion": {"window": 8, "stride": 8},
    "integrated_gradients": {"steps": 8},
    "smoothgrad": {"samples": 8},
    "rise": {"count": 200},
}


def sides() -> list[tuple[str, str]]:
    return [("cpu", "cpu"), ("gpu", GPU)]


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    corr = (
        float(np.corrcoef(a, b)[0, 1])
        if a.std() > 0 and b.std() > 0
        else float(np.array_equal(a, b))
    )
    return float(np.abs(a - b).max()), corr


def every_map_both(
    make,
    layer_of,
    x: torch.Tensor,
    classes: list[int],
    options: dict,
    cams_only: bool = False,
) -> tuple[list[dict], dict]:
    """``every_map`` (or only the CAM methods) on the CPU and on the GPU: one row per method, and
    the timing. ``make(device)`` gives the model on that device, ``layer_of(model)`` its layer."""
    out = {}
    for side, device in sides():
        model = make(device).eval()
        start = time.perf_counter()
        layer = layer_of(model)
        if cams_only:
            maps = {
                n: np.asarray(m(model, layer, x.to(device), classes).cam)
                for n, m in cam.METHODS.items()
            }
        else:
            maps = attribution.every_map(model, layer, x.to(device), classes, options=options)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        left = hooks.count_hooks(model)
        assert all(isinstance(m, np.ndarray) for m in maps.values()), (
            "a map did not come back as an array"
        )
        out[side] = (maps, seconds, left)
    rows = []
    for name in out["cpu"][0]:
        diff, corr = compare(out["cpu"][0][name], out["gpu"][0][name])
        rows.append(
            {
                "method": name,
                "diff": diff,
                "corr": corr,
                "ok": bool(diff <= MAP_DIFF and corr >= MAP_CORR),
            }
        )
    return rows, {
        "cpu_s": out["cpu"][1],
        "gpu_s": out["gpu"][1],
        "hooks_left": out["cpu"][2] + out["gpu"][2],
    }


def lite0(report: dict) -> None:
    bundles = {k: load_model("efficientnet_lite0", source="bundled", device=d) for k, d in sides()}
    report["lite0 device"] = str(next(bundles["gpu"].model.parameters()).device)
    auto = load_model("efficientnet_lite0", source="bundled", device="auto")
    report["lite0 auto device"] = str(next(auto.model.parameters()).device)
    x = torch.stack(
        [bundles["cpu"].preprocess(images.load_image(n)) for n in ("cat", "cat_and_cup")]
    )
    with torch.no_grad():
        top = {k: b.model(x.to(b.device)).argmax(1).tolist() for k, b in bundles.items()}
    report["lite0 classes"] = top
    report["lite0 same classes"] = top["cpu"] == top["gpu"]
    report["lite0 maps"], report["lite0 timing"] = every_map_both(
        lambda d: bundles["gpu" if d == GPU else "cpu"].model,
        lambda m: m.get_submodule(bundles["cpu"].gradcam_layer_name),
        x,
        top["cpu"],
        OPTIONS,
    )


def resnet18(report: dict) -> None:
    import torchvision

    def make(device: str) -> torch.nn.Module:
        torch.manual_seed(0)
        return torchvision.models.resnet18(weights=None).to(device)

    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    # the CAM family only: LRP refuses ResNet's skip connections (x + y has no LRP rule here)
    report["resnet18 maps"], report["resnet18 timing"] = every_map_both(
        make, lambda m: m.layer4, x, [1, 2], OPTIONS, cams_only=True
    )


def toy(report: dict) -> None:
    batch = shapes.make_batch(8, seed=7)
    report["toy maps"], report["toy timing"] = every_map_both(
        lambda d: shapes.load_net("vgg").to(d),
        shapes.target_layer,
        batch.images,
        batch.labels[:, 0].tolist(),
        TOY_OPTIONS,
    )

    world = markers.make_marker_batch(200, seed=7, agree=True)
    tables = {}
    for side, device in sides():
        net = variants.load_toy_net("marker_hans").to(device)
        tables[side] = reliance.reliance_table(
            net,
            world.images.to(device),
            world.shape_labels.to(device),
            world.shape_masks.to(device),
            world.marker_masks.to(device),
        )
    report["reliance cpu"], report["reliance gpu"] = tables["cpu"], tables["gpu"]
    report["reliance same accuracies"] = all(
        abs(tables["cpu"][k]["accuracy"] - tables["gpu"][k]["accuracy"]) <= 1 / 200
        for k in tables["cpu"]
    )

    gap = {k: shapes.load_net("gap").to(d) for k, d in sides()}
    layers = {k: toy_layers(n) for k, n in gap.items()}
    vis = {k: fv.visualize(gap[k], layers[k], 3, 5, size=64, steps=6, seed=0) for k in gap}
    report["fv histories"] = {k: [round(float(v), 5) for v in vis[k].history] for k in vis}
    report["fv same start"] = bool(
        np.allclose(vis["cpu"].history, vis["gpu"].history, rtol=1e-2, atol=1e-2)
    )
    world = toy_concepts(100, 7)
    d = {
        k: dissect.dissect(
            gap[k], layers[k], [3], world.images.to(dev), world.masks.to(dev), world.names
        )["features.3"]
        for k, dev in sides()
    }
    iou = {k: torch.as_tensor(d[k].iou).cpu() for k in d}
    report["dissection largest IoU difference"] = float((iou["cpu"] - iou["gpu"]).abs().max())
    report["dissection same labels"] = d["cpu"].detectors() == d["gpu"].detectors()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--device", default="cuda", help="the other device (cpu: a dry run of this script)"
    )
    parser.add_argument(
        "--tf32",
        action="store_true",
        help="PyTorch's default TF32 convolutions, as without helpers.setup() (expected to fail)",
    )
    args = parser.parse_args()
    global GPU
    GPU = args.device
    # as helpers.setup() in every notebook: full float32 (PyTorch's default lets cuDNN use TF32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = args.tf32
    if GPU == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here")
        return 2
    report: dict = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if GPU == "cuda" else GPU,
        "errors": {},
        "cudnn tf32": torch.backends.cudnn.allow_tf32,
    }
    for part in (lite0, resnet18, toy):
        start = time.perf_counter()
        try:
            part(report)
        except Exception:  # noqa: BLE001 (report every part, then fail)
            report["errors"][part.__name__] = traceback.format_exc()
        report[f"{part.__name__} seconds"] = round(time.perf_counter() - start, 1)
    bad = [
        f"{k}: {r['method']} diff {r['diff']:.3g} corr {r['corr']:.4f}"
        for k in ("lite0 maps", "resnet18 maps", "toy maps")
        for r in report.get(k, [])
        if not r["ok"]
    ]
    for key in (
        "lite0 same classes",
        "reliance same accuracies",
        "fv same start",
        "dissection same labels",
    ):
        if report.get(key) is False:
            bad.append(key)
    for key in ("lite0 timing", "resnet18 timing", "toy timing"):
        if report.get(key, {}).get("hooks_left"):
            bad.append(f"{key}: hooks left")
    report["failures"] = bad
    for key, value in report.items():
        if key.endswith("maps"):
            print(f"{key}:")
            for r in value:
                print(
                    f"  {r['method']:<22s} largest diff {r['diff']:.2e}  corr {r['corr']:.5f}  "
                    f"{'ok' if r['ok'] else 'FAIL'}"
                )
        elif key != "errors":
            print(f"{key}: {value}")
    for part, text in report["errors"].items():
        print(f"ERROR in {part}:\n{text}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        name = f"cuda_check{'_tf32' if args.tf32 else ''}.json"
        (args.out / name).write_text(json.dumps(report, indent=1, default=str))
    return 1 if bad or report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
