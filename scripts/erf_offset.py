"""Measure where the last-layer cells of each model look, relative to where upsampling draws them.

For each model, :func:`helpers.cam.erf.erf_centres` of every cell of its CAM layer at
224 x 224 on the Gaussian probes of :func:`helpers.cam.erf.probe_inputs` (16 images, seed 0;
the random networks the first of them only):
the bundled EfficientNet-Lite0 with its weights, and with random weights; the same random
network with TensorFlow's "SAME" padding replaced by PyTorch's symmetric padding (the
cause of its offset); torchvision's ResNet18 and VGG16-bn with random weights (no
download; each built right after ``torch.manual_seed(0)``, so a notebook can rebuild it).
Writes data/erf/offsets.json, which notebooks 9.2.1 and 9.2.2 read (and check a cell of
live). Slow on a CPU: one backward pass per cell (49 per model), VGG16-bn the most.
Usage: ``CH9_MODEL_SOURCE=bundled python scripts/erf_offset.py [--only WORD ...]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from helpers import load_model
from helpers.cam.erf import erf_centres, probe_inputs
from helpers.models.lite0 import Conv2dSame, efficientnet_lite0
from helpers.models.tv import import_torchvision

OUT = Path(__file__).resolve().parent.parent / "data" / "erf" / "offsets.json"
SETTINGS = {"size": 224, "samples": 16, "seed": 0, "weights_seed": 0}


class SymmetricConv(nn.Conv2d):
    """A :class:`Conv2dSame`'s weights with PyTorch's symmetric padding ``(k - 1) / 2``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.kernel_size[0] // 2,
                        self.dilation, self.groups)


def symmetric(model: nn.Module) -> nn.Module:
    """``model`` with every :class:`Conv2dSame` swapped for :class:`SymmetricConv` (in place)."""
    for module in model.modules():
        if isinstance(module, Conv2dSame):
            module.__class__ = SymmetricConv
    return model


def random(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` right after ``torch.manual_seed(weights_seed)``, in eval mode."""
    torch.manual_seed(SETTINGS["weights_seed"])
    return build().eval()


def models() -> dict[str, tuple[str, Callable[[], nn.Module], str, int]]:
    """``key -> (label, builder, layer, probes)``; the builders run one at a time.

    The random networks get the first probe only (their offset comes from the
    architecture; 49 backward passes through VGG16-bn's 15 GFLOP features take minutes
    per probe on a busy 2-core CPU); the bundled weights get all 16 (with trained
    weights a single probe's mean offset varies by several pixels).
    """
    tvm = import_torchvision().models
    return {
        "efficientnet_lite0": ("EfficientNet-Lite0, bundled weights",
                               lambda: load_model("efficientnet_lite0", source="bundled",
                                                  device="cpu").model, "bn2", 16),
        "efficientnet_lite0_random": ("EfficientNet-Lite0, random weights",
                                      lambda: random(efficientnet_lite0), "bn2", 1),
        "efficientnet_lite0_random_symmetric": (
            "EfficientNet-Lite0, random, symmetric padding",
            lambda: symmetric(random(efficientnet_lite0)), "bn2", 1),
        "resnet18_random": ("ResNet18, random weights",
                            lambda: random(lambda: tvm.resnet18(weights=None)), "layer4", 1),
        "vgg16_bn_random": ("VGG16-bn, random weights",
                            lambda: random(lambda: tvm.vgg16_bn(weights=None)), "features.42", 1),
    }


def measure(build: Callable[[], nn.Module], layer: str, samples: int) -> dict:
    model = build()
    x = probe_inputs(SETTINGS["size"], SETTINGS["samples"], SETTINGS["seed"])[:samples]
    t = time.perf_counter()
    per_probe = erf_centres(model, layer, x)  # (samples, h, w, 2)
    seconds = time.perf_counter() - t
    c = per_probe.nanmean(dim=0)  # (h, w, 2)
    h, w = c.shape[:2]
    probe_means = per_probe.flatten(1, 2).nanmean(dim=1)  # (samples, 2)
    se = (probe_means.std(dim=0) / samples ** 0.5).tolist() if samples > 1 else [None, None]
    return {"layer": layer, "samples": samples, "grid": [h, w], "cell": SETTINGS["size"] / h,
            "mean": [round(v, 4) for v in per_probe.reshape(-1, 2).nanmean(dim=0).tolist()],
            "standard_error": [None if v is None else round(v, 4) for v in se],
            "probe_means": [[round(v, 4) for v in row] for row in probe_means.tolist()],
            "per_cell": [[[round(v, 4) for v in c[i, j].tolist()] for j in range(w)]
                         for i in range(h)],
            "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="keys that contain one of these words")
    args = parser.parse_args()
    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    data["settings"] = {**SETTINGS, "torch": torch.__version__,
                        "probe": "helpers.cam.erf.probe_inputs(size, samples, seed)"}
    rows = data.setdefault("models", {})
    for key, (label, build, layer, samples) in models().items():
        if args.only and not any(word in key for word in args.only):
            continue
        rows[key] = {"label": label, **measure(build, layer, samples)}
        dy, dx = rows[key]["mean"]
        print(f"{key:<40s} dy {dy:+6.2f} px, dx {dx:+6.2f} px ({rows[key]['seconds']} s)",
              flush=True)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
