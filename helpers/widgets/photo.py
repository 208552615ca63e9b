"""The photo as the CAM explorer shows it: scaled to the display, with the crop box the model saw.

Introduced in notebooks/09_2_1_cam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..models import ModelBundle


@dataclass
class Photo:
    """One photo as the explorer holds it; a new photo replaces the whole object.

    Attributes:
        image_id: a counter, part of every cache key.
        x: the model's input.
        pixels: the photo scaled to the display width.
        box: ``(left, top, right, bottom)`` of the centre crop the model saw, in ``pixels``.
        crop: ``pixels`` inside ``box``, as float for the blend.
        probs: softmax over the classes (``None`` until the first map is computed).

    Shapes:
        x: ``(1, 3, 224, 224)``; pixels: ``(H, W, 3)`` uint8; crop: ``(bh, bw, 3)`` float32.
    """

    image_id: int
    x: torch.Tensor
    pixels: np.ndarray
    box: tuple[int, int, int, int]
    crop: np.ndarray
    probs: torch.Tensor | None = None


def display_box(box: tuple[int, int, int, int], scale: float,
                size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` scaled by ``scale``, kept inside ``size = (w, h)`` and at least 1x1 pixel."""
    left, top, right, bottom = (round(v * scale) for v in box)
    left, top = min(max(0, left), size[0] - 1), min(max(0, top), size[1] - 1)
    return left, top, min(size[0], max(right, left + 1)), min(size[1], max(bottom, top + 1))


def display_photo(bundle: ModelBundle, image: Image.Image, width: int, image_id: int) -> Photo:
    """The model's input and the photo scaled to at most ``width`` pixels on its long side.

    The crop box is the bundle's own (``bundle.crop_box``), scaled with the photo.

    Shapes:
        returns a :class:`Photo` with ``x (1, 3, crop, crop)`` and ``pixels (H, W, 3)``.
    """
    scale = min(1.0, width / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC),
                        dtype=np.uint8)  # (H, W, 3)
    box = display_box(bundle.crop_box(image.size), scale, size)
    left, top, right, bottom = box
    return Photo(image_id, bundle.to_input(image), pixels, box,
                 pixels[top:bottom, left:right].astype(np.float32))
