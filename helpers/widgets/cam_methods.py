"""What the CAM explorer offers for one model: its methods and layers, and the one call of a map.

CAM (class weights) is offered only when the model's head is global average pooling
+ one linear layer (``bundle.classifier_weight`` is not None) and always uses
``bundle.cam_layer``; every CAM method of :mod:`helpers.registry` (``cam.METHODS``)
takes the chosen layer.

Introduced in notebooks/09_2_1_cam.
"""

from __future__ import annotations

import torch

from .. import cam
from .. import registry
from ..models import ModelBundle


def label(name: str) -> str:
    """The menu label: ``"CAM"`` (class weights) or the registry's label."""
    return "CAM" if name == "cam" else registry.label(name)


def layer_names(bundle: ModelBundle) -> list[str]:
    """The layer menu: ``bundle.feature_layers`` names, plus the Grad-CAM layer if it is not one."""
    names = [name for name, _ in bundle.feature_layers]
    return names if bundle.gradcam_layer_name in names else [*names, bundle.gradcam_layer_name]


def choose(bundle: ModelBundle, method: str, layer: str | None) -> tuple[list[str], str, str]:
    """The method menu, and the method and layer to start with.

    ``"cam"`` falls back to ``"grad_cam"`` when the model has no class weights;
    ``layer=None`` is ``bundle.gradcam_layer_name``.

    Raises:
        ValueError: an unknown method, or a layer that is not in :func:`layer_names`.
    """
    names = (["cam"] if bundle.classifier_weight is not None else []) + list(cam.METHODS)
    if method not in ("cam", *cam.METHODS):
        raise ValueError(f"method must be one of {['cam', *cam.METHODS]}, got {method!r}")
    if method not in names:
        method = "grad_cam"
    layer = layer or bundle.gradcam_layer_name
    if layer not in layer_names(bundle):
        raise ValueError(f"layer {layer!r} is not one of bundle.feature_layers")
    return names, method, layer


def compute(bundle: ModelBundle, method: str, layer: str, x: torch.Tensor,
            class_idx: int | None) -> cam.CamResult:
    """The map of ``method`` at ``layer`` (CAM: at ``bundle.cam_layer``) for ``class_idx``
    (``None``: the top-1 class); one forward pass, plus one backward for gradient methods.

    Shapes:
        x: ``(1, 3, 224, 224)``; the result's ``cam``: ``(224, 224)``.
    """
    if method == "cam":
        return cam.class_weight_cam(bundle.model, bundle.cam_layer, bundle.classifier_weight,
                                    x, class_idx)
    return cam.METHODS[method](bundle.model, layer, x, class_idx)
