"""The shapes world with a marker: a second piece of evidence whose use is known by construction.

Each image is a :func:`helpers.shapes.make_batch`-style one-object image (same
textured background, same six shapes) plus a **marker**: an 8 x 8 checkerboard
of black and one of six saturated colours, in the image corner farthest from
the shape (so the two never overlap). The marker's colour is a class code.

Whether the marker carries the label is chosen by ``agree``:

* ``agree=False``: the marker's class is drawn independently of the shape's.
  A net trained on ``shape_labels`` can only use the shape (the marker is noise);
  a net trained on ``marker_labels`` can only use the marker (the shape is noise).
* ``agree=True``: marker class = shape class, so both carry the label.

This is the idea of SMERF (Kim et al. 2021) and BAM (Yang & Kim 2019): train a
network where the evidence is controlled, then ask whether an explanation finds it.

Introduced in notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .world import CLASSES, _background, _check_int, _place, _shape_colour, _shape_mask

__all__ = ["MARKER", "MARKER_COLOURS", "MARGIN", "MarkerBatch", "make_marker_batch"]

MARKER = 8
"""Side of the marker in pixels (at 64 x 64 it covers 64 pixels, 1.6 % of the image)."""
MARGIN = 2
"""Pixels between the marker and the image border."""
MARKER_COLOURS: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.0, 0.0), (0.0, 0.8, 0.0), (0.0, 0.2, 1.0), (1.0, 0.9, 0.0), (1.0, 0.0, 1.0),
    (0.0, 1.0, 1.0))
"""The marker colour of each class, in the order of :data:`helpers.shapes.CLASSES`."""
_STREAM = 7  # keeps these images' random stream apart from make_batch's


@dataclass
class MarkerBatch:
    """Marker-world images with both pieces of ground truth.

    Attributes:
        images: RGB in [0, 1], float32.
        shape_labels, marker_labels: class indices (int64) of the shape and of the marker.
        shape_masks, marker_masks: the pixels of the shape and of the marker (bool, disjoint).

    Shapes:
        images: ``(N, 3, S, S)``; labels: ``(N,)``; masks: ``(N, S, S)``.
    """

    images: torch.Tensor
    shape_labels: torch.Tensor
    marker_labels: torch.Tensor
    shape_masks: torch.Tensor
    marker_masks: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def _marker_box(size: int, cx: float, cy: float) -> tuple[int, int]:
    """Top-left pixel of the marker in the corner farthest from the shape's centre."""
    far = size - MARGIN - MARKER
    corners = [(top, left) for top in (MARGIN, far) for left in (MARGIN, far)]
    dist = [np.hypot(left + MARKER / 2 - cx, top + MARKER / 2 - cy) for top, left in corners]
    return corners[int(np.argmax(dist))]


def _make_image(seed: int, index: int, size: int, agree: bool):
    rng = np.random.default_rng([seed, _STREAM, size, index])
    image, c1, c2 = _background(rng, size)
    shape_cls = int(rng.integers(len(CLASSES)))
    marker_cls = int(rng.integers(len(CLASSES)))  # drawn in both cases: same images otherwise
    if agree:
        marker_cls = shape_cls
    (cx, cy, r), = _place(rng, size, 1)
    shape_mask = _shape_mask(shape_cls, size, cx, cy, r, rng.uniform(0, 2 * np.pi))
    image[shape_mask] = _shape_colour(rng, c1, c2)
    top, left = _marker_box(size, cx, cy)
    marker_mask = np.zeros((size, size), dtype=bool)
    marker_mask[top:top + MARKER, left:left + MARKER] = True
    yy, xx = np.mgrid[0:MARKER, 0:MARKER]
    checker = ((yy // 2 + xx // 2) % 2 == 0)[..., None]  # (8, 8, 1): 2-pixel squares
    image[top:top + MARKER, left:left + MARKER] = np.where(
        checker, np.asarray(MARKER_COLOURS[marker_cls]), 0.0)
    return image, shape_cls, marker_cls, shape_mask, marker_mask


def make_marker_batch(n: int, seed: int, *, agree: bool, size: int = 64) -> MarkerBatch:
    """``n`` one-object images with a class-coded marker, deterministically from ``seed``.

    Image ``i`` depends only on ``(seed, size, i)`` and ``agree``; with ``agree=True``
    and ``agree=False`` the images are the same except for the marker's colour.
    The networks were trained on ``seed = helpers.shapes.TRAIN_SEED`` (0).

    Args:
        n: number of images (at least 1).
        seed: a non-negative integer.
        agree: the marker's class equals the shape's (True) or is independent (False).
        size: image side in pixels (at least 32).

    Shapes:
        returns images ``(n, 3, size, size)``, labels ``(n,)``, masks ``(n, size, size)``.

    Raises:
        TypeError / ValueError: a non-integer or out-of-range argument.
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    size = _check_int("size", size, 32)
    if not isinstance(agree, (bool, np.bool_)):
        raise TypeError(f"agree must be True or False, got {agree!r}")
    images = np.empty((n, size, size, 3), dtype=np.float32)
    labels = np.empty((2, n), dtype=np.int64)
    masks = np.empty((2, n, size, size), dtype=bool)
    for i in range(n):
        images[i], labels[0, i], labels[1, i], masks[0, i], masks[1, i] = \
            _make_image(seed, i, size, bool(agree))
    return MarkerBatch(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),  # (N, 3, S, S)
        shape_labels=torch.from_numpy(labels[0]), marker_labels=torch.from_numpy(labels[1]),
        shape_masks=torch.from_numpy(masks[0]), marker_masks=torch.from_numpy(masks[1]),
    )
