"""Print where the last-layer cells of each model look, relative to where upsampling draws them.

The bundled EfficientNet-Lite0 with its weights and with random weights, torchvision's
ResNet18 and VGG16-bn with random weights (no download; with random weights the offset
comes from the architecture: padding, strides). Slow on a CPU: one backward pass per
cell (49 per model), VGG16-bn about 30 GFLOP each.
Usage: ``python scripts/erf_offset.py [--samples 4]``.
"""

from __future__ import annotations

import argparse
import os

import torch
import torchvision

from helpers import load_model
from helpers.cam.erf import erf_offset
from helpers.models.lite0 import efficientnet_lite0


def models() -> dict[str, tuple[torch.nn.Module, str]]:
    torch.manual_seed(0)
    bundled = load_model("efficientnet_lite0", source="bundled", device="cpu")
    return {
        "efficientnet_lite0 (bundled weights), bn2": (bundled.model, bundled.gradcam_layer_name),
        "efficientnet_lite0 (random weights), bn2": (efficientnet_lite0().eval(), "bn2"),
        "resnet18 (random weights), layer4": (torchvision.models.resnet18(weights=None).eval(),
                                              "layer4"),
        "vgg16_bn (random weights), features.42": (
            torchvision.models.vgg16_bn(weights=None).eval(), "features.42"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="rows whose name contains one of these words")
    args = parser.parse_args()
    os.environ.setdefault("CH9_MODEL_SOURCE", "bundled")
    print(f"centre of the effective receptive field minus where bilinear upsampling draws the "
          f"cell, mean over the cells, 224 x 224 input, {args.samples} Gaussian inputs")
    for name, (model, layer) in models().items():
        if args.only and not any(word in name for word in args.only):
            continue
        dy, dx = erf_offset(model, layer, 224, samples=args.samples)
        print(f"{name:<45s} dy {dy:+6.2f} px, dx {dx:+6.2f} px, "
              f"distance {(dy * dy + dx * dx) ** 0.5:5.2f} px")


if __name__ == "__main__":
    main()
