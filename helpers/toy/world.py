"""A toy world with ground truth: synthetic shape images with class labels and pixel masks.

Each image is ``size x size`` RGB (64 x 64 by default) with a smooth textured
background (a blend of two random colours, driven by bilinear value noise and
stripes) and one or two flat-coloured shapes from six classes, at a random
position, size, rotation and colour. Everything is generated from a seed with
numpy: nothing is downloaded, and the same seed gives the same images.

The small networks trained on these images (``load_net``, ``target_layer``,
``class_weights``) live in :mod:`helpers.toy.nets` and are re-exported here.

Introduced in notebooks/09_2_2_grad_cam (figure 9-8's controlled experiment); used again in
notebooks/09_ext_trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .nets import KINDS, MEAN, STD, class_weights, load_net, target_layer

__all__ = [
    "CLASSES", "CLASS_NAMES_ZH", "KINDS", "MEAN", "STD", "TRAIN_SEED", "ShapesBatch",
    "class_weights", "load_net", "make_batch", "target_layer",
]

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")
"""The six classes; a label is an index into this tuple."""
CLASS_NAMES_ZH: tuple[str, ...] = ("圆形", "正方形", "三角形", "五角星", "十字", "圆环")
"""The same classes in Chinese, in the same order."""
TRAIN_SEED = 0
"""The seed of the networks' training set; every other seed gives held-out images."""

_RADIUS = {1: (9.0, 15.0), 2: (8.0, 12.0)}  # circumradius range at size 64, per object count
_GAP = 2.0  # pixels between the bounding circles of two objects
_MIN_CONTRAST = 0.4  # RGB distance between a shape's colour and every background colour


@dataclass
class ShapesBatch:
    """Images with their ground truth.

    Attributes:
        images: RGB in [0, 1], float32.
        labels: class indices into :data:`CLASSES`, one per object (int64). With two
            objects the two classes differ.
        masks: the pixels of each object (bool). Objects never overlap: the masks of
            one image are disjoint, and every masked pixel has its object's colour.

    Shapes:
        images: ``(N, 3, S, S)``; labels: ``(N, objects)``; masks: ``(N, objects, S, S)``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _inside_polygon(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points lie inside the polygon ``verts`` (K, 2) of (x, y) rows."""
    inside = np.zeros(px.shape, dtype=bool)
    x1, y1 = verts[:, 0], verts[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    for a, b, c, d in zip(x1, y1, x2, y2):
        if b == d:  # a horizontal edge never crosses a horizontal ray
            continue
        crosses = (b > py) != (d > py)
        x_at = a + (py - b) * (c - a) / (d - b)  # where the edge meets the ray's height
        inside ^= crosses & (px < x_at)
    return inside


def _shape_mask(cls: int, size: int, cx: float, cy: float, r: float, theta: float) -> np.ndarray:
    """The pixels (centres at ``i + 0.5``) of one shape; it lies inside the circle (cx, cy, r)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # (S, S) each
    dx, dy = xx - cx, yy - cy
    cos, sin = np.cos(theta), np.sin(theta)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # rotated coordinates
    dist = np.hypot(dx, dy)
    name = CLASSES[cls]
    if name == "circle":
        return dist <= r
    if name == "ring":
        return (dist <= r) & (dist >= 0.55 * r)
    if name == "square":
        half = r / np.sqrt(2.0)
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if name == "cross":
        arm, width = 0.95 * r, 0.3 * r
        return ((np.abs(u) <= arm) & (np.abs(v) <= width)) | ((np.abs(v) <= arm) & (np.abs(u) <= width))
    if name == "triangle":
        angles = theta + np.arange(3) * 2 * np.pi / 3
        radii = np.full(3, r)
    else:  # star: five points, inner radius 0.45 r
        angles = theta + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    verts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return _inside_polygon(xx, yy, verts)


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth texture ``(1 - t) * c1 + t * c2``: t blends value noise and stripes.

    Returns the image ``(S, S, 3)`` and the two end colours ``c1, c2`` ``(3,)``.
    """
    c1 = rng.uniform(0.0, 1.0, 3)
    c2 = np.clip(c1 + rng.uniform(-0.35, 0.35, 3), 0.0, 1.0)
    while not 0.15 <= np.linalg.norm(c1 - c2) <= 0.35:  # visible, but weaker than a shape's edge
        c2 = np.clip(c1 + rng.uniform(-0.35, 0.35, 3), 0.0, 1.0)
    cells = int(rng.integers(2, 6))
    grid = rng.uniform(0.0, 1.0, (cells + 1, cells + 1))
    pos = (np.arange(size) + 0.5) / size * cells  # pixel centres in grid units
    i0 = np.minimum(pos.astype(int), cells - 1)
    f = pos - i0
    rows = grid[i0] * (1 - f)[:, None] + grid[i0 + 1] * f[:, None]  # (S, cells + 1)
    noise = rows[:, i0] * (1 - f) + rows[:, i0 + 1] * f  # (S, S) bilinear value noise
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(2, 6), rng.uniform(0, 2 * np.pi)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle))
                                 + phase)
    w = rng.uniform(0.0, 1.0)
    t = (w * noise + (1 - w) * stripes)[..., None]  # (S, S, 1) in [0, 1]
    return (1 - t) * c1 + t * c2, c1, c2


def _shape_colour(rng: np.random.Generator, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """A colour at least ``_MIN_CONTRAST`` away from the segment c1-c2 (every background pixel)."""
    seg = c2 - c1
    for _ in range(1000):
        c = rng.uniform(0.0, 1.0, 3)
        s = np.clip(np.dot(c - c1, seg) / np.dot(seg, seg), 0.0, 1.0)
        if np.linalg.norm(c - (c1 + s * seg)) >= _MIN_CONTRAST:
            return c
    raise RuntimeError("no contrasting colour found")  # pragma: no cover


def _place(rng: np.random.Generator, size: int, objects: int) -> list[tuple[float, float, float]]:
    """Centres and radii ``(cx, cy, r)`` whose bounding circles are ``_GAP`` apart."""
    lo, hi = (b * size / 64 for b in _RADIUS[objects])
    for _ in range(1000):
        placed: list[tuple[float, float, float]] = []
        for _ in range(objects):
            r = rng.uniform(lo, hi)
            cx, cy = rng.uniform(r + 1, size - r - 1, 2)
            placed.append((cx, cy, r))
        if objects == 1 or np.hypot(placed[0][0] - placed[1][0], placed[0][1] - placed[1][1]) \
                >= placed[0][2] + placed[1][2] + _GAP:
            return placed
    raise RuntimeError("could not place two objects apart")  # pragma: no cover


def _make_image(seed: int, index: int, objects: int, size: int):
    rng = np.random.default_rng([seed, objects, size, index])
    image, c1, c2 = _background(rng, size)
    classes = rng.choice(len(CLASSES), size=objects, replace=False)
    masks = np.zeros((objects, size, size), dtype=bool)
    for k, (cx, cy, r) in enumerate(_place(rng, size, objects)):
        theta = rng.uniform(0, 2 * np.pi)
        masks[k] = _shape_mask(int(classes[k]), size, cx, cy, r, theta)
        image[masks[k]] = _shape_colour(rng, c1, c2)
    return image, classes, masks


def make_batch(n: int, seed: int, *, objects: int = 1, size: int = 64) -> ShapesBatch:
    """Generate ``n`` images with their labels and masks, deterministically from ``seed``.

    Image ``i`` depends only on ``(seed, objects, size, i)``, so
    ``make_batch(k, seed)`` equals the first ``k`` images of ``make_batch(n, seed)``.
    The networks were trained on ``seed = TRAIN_SEED``; any other seed is held out.

    Shape sizes (circumradius, at ``size = 64``): 9 to 15 pixels for one object,
    8 to 12 for two; two objects' bounding circles are at least 2 pixels apart, so
    their masks never overlap (IoU 0) and the two classes always differ.

    Args:
        n: number of images (at least 1).
        seed: a non-negative integer.
        objects: shapes per image, 1 or 2.
        size: image side in pixels (at least 32); the ``vgg`` networks need 64.

    Shapes:
        returns images ``(n, 3, size, size)``, labels ``(n, objects)``,
        masks ``(n, objects, size, size)``.

    Raises:
        TypeError / ValueError: a non-integer or out-of-range argument.
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    size = _check_int("size", size, 32)
    if isinstance(objects, bool) or objects not in (1, 2):
        raise ValueError(f"objects must be 1 or 2, got {objects!r}")
    images = np.empty((n, size, size, 3), dtype=np.float32)
    labels = np.empty((n, objects), dtype=np.int64)
    masks = np.empty((n, objects, size, size), dtype=bool)
    for i in range(n):
        images[i], labels[i], masks[i] = _make_image(seed, i, objects, size)
    return ShapesBatch(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),  # (N, 3, S, S)
        labels=torch.from_numpy(labels),  # (N, objects)
        masks=torch.from_numpy(masks),  # (N, objects, S, S)
    )
