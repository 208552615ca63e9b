"""What the 9.1 feature-map explorer holds about one photo: every layer's output, one forward pass.

A new photo replaces the whole :class:`ImageState` only when all of it is ready,
so the explorer never draws one photo's crop with another's activations.

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from .. import hooks
from ..models import ModelBundle


@dataclass
class ImageState:
    """Everything the explorer holds about one photo; replaced as a whole by a new photo.

    Attributes:
        acts: ``{layer name: (1, C, h, w) CPU tensor}``.
        photo: the centre crop the model saw, ``(S, S, 3)`` float32 in 0..255.
        ranks: channel order per layer (most active first), filled on first use.
    """

    acts: dict[str, torch.Tensor]
    photo: np.ndarray
    ranks: dict[str, np.ndarray] = field(default_factory=dict)


def capture_state(bundle: ModelBundle, image: Image.Image, size: int) -> ImageState:
    """One forward pass: every ``bundle.feature_layers`` output, and the crop drawn at ``size``.

    Raises:
        ValueError: a feature layer whose output is not ``(N, C, h, w)``.

    Shapes:
        the model's input ``(1, 3, 224, 224)``; ``acts[name]`` ``(1, C, h, w)``;
        ``photo`` ``(size, size, 3)``.
    """
    x = bundle.to_input(image)  # (1, 3, 224, 224)
    acts = hooks.capture_activations(bundle.model, x, bundle.feature_layers)
    bad = {n: tuple(a.shape) for n, a in acts.items() if a.ndim != 4}
    if bad:
        raise ValueError(f"feature layers must output (N, C, h, w), got {bad}")
    crop = image.crop(bundle.crop_box(image.size)).resize((size, size), Image.Resampling.BICUBIC)
    return ImageState(acts={n: acts[n].float().cpu() for n, _ in bundle.feature_layers},  # (1, C, h, w)
                      photo=np.asarray(crop, dtype=np.float32))  # (S, S, 3) in 0..255
