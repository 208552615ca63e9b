"""The model bundle: a classifier plus what the notebooks need to use it.

:func:`helpers.models.load_model` builds one; the bundle carries its own
preprocessing numbers (``resize``, ``crop``), so the overlay box it answers
(:meth:`ModelBundle.crop_box`) can never disagree with what the model saw.

Introduced in notebooks/00_start_here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from PIL import Image
from torch import nn

from .. import images
from .sources import WeightInfo


@dataclass
class ModelBundle:
    """A classifier plus everything the chapter's notebooks need to use it.

    Attributes:
        model: the network, in eval mode, on ``device``.
        name: the architecture actually loaded (``"efficientnet_lite0"`` when a
            textbook model was asked for but the bundled source is in use).
        requested: the name that was asked for.
        source: ``"bundled"`` or ``"torchvision"``.
        preprocess: PIL image -> tensor ``(3, crop, crop)``: ``Resize(resize)``,
            ``CenterCrop(crop)``, ``ToTensor``, ``Normalize(mean, std)``.
        categories: the 1000 ImageNet class names.
        feature_layers: ordered ``(name, module)`` list of the convolutional
            part; applying them one after another reproduces the forward pass
            up to the classifier head.
        cam_layer_name / cam_layer: the module whose output is the last
            feature map (the one that feeds global average pooling).
        classifier_weight: weight ``(classes, C)`` of the final linear layer
            when the head is global-average-pool + one linear layer, else None.
        gradcam_layer_name / gradcam_layer: the layer the textbook explains
            with Grad-CAM (``avgpool`` for VGG16-bn).
        mean, std: the normalization used by ``preprocess``.
        device: where the model lives.
        weights: which weight file was loaded (name, SHA-256, published or not).
        resize, crop: the short side after resizing and the side of the centre
            crop in ``preprocess``; :meth:`crop_box` answers with the same numbers.
    """

    model: nn.Module
    name: str
    requested: str
    source: str
    preprocess: Callable[[Image.Image], torch.Tensor]
    categories: list[str]
    feature_layers: list[tuple[str, nn.Module]]
    cam_layer_name: str
    classifier_weight: torch.Tensor | None
    gradcam_layer_name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    weights: WeightInfo | None = None
    resize: int = images.RESIZE
    crop: int = images.CROP

    @property
    def cam_layer(self) -> nn.Module:
        return self.model.get_submodule(self.cam_layer_name)

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.model.get_submodule(self.gradcam_layer_name)

    def describe(self) -> str:
        """One line saying which model and weights are in use."""
        line = f"model: {self.name} ({self.source} weights) · device: {self.device.type}"
        return line if self.weights is None else f"{line}\n{self.weights.describe()}"

    def expect(self, holds: bool, claim: str) -> None:
        """Check a claim about what the *trained* model does (a top-1 class, where a map peaks).

        The stored outputs come from the bundled weights, so there the claim is
        asserted. With any other weights (torchvision's, or a stand-in file) it
        is only reported: a different network may see the photo differently, and
        a lecture must not stop for that.
        """
        if self.source == "bundled":
            assert holds, f"the bundled model no longer does this: {claim}"
            return
        verdict = "成立" if holds else "不成立"
        print(f"{verdict}（{self.name} 的 {self.source} 权重）：{claim}。课程保存的输出来自自带的模型；"
              f"换一套权重，模型看照片的方式可能不同。")

    def crop_box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The region of a photo of ``size = (w, h)`` that ``preprocess`` keeps.

        Returns:
            ``(left, top, right, bottom)`` in the photo's pixels (see :func:`helpers.images.crop_box`).
        """
        return images.crop_box(size, self.resize, self.crop)

    def to_input(self, image: Image.Image) -> torch.Tensor:
        """Preprocess one PIL image into a batch ``(1, 3, crop, crop)`` on ``device``."""
        return self.preprocess(image).unsqueeze(0).to(self.device)
