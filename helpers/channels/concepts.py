"""Labelled concepts of the toy world with pixel masks, for network dissection.

Twenty concepts, each a boolean mask per image:

* the six shapes (``circle`` ... ``ring``): the pixels of the objects of that class;
* ``shape`` (inside any shape) and ``background`` (the rest);
* four stripe orientations of the background texture, named by the direction of
  the stripes' lines: ``stripes |``, ``stripes /``, ``stripes -``, ``stripes \\``
  (the background pixels of an image whose stripe angle is nearest that direction
  and whose stripes carry at least half of the texture, ``1 - w >= 0.5``);
* eight colours, the corners of the RGB cube (``black``, ``red`` ... ``white``):
  the pixels whose colour is nearest that corner (each channel above or below 0.5).

The generator :func:`helpers.shapes.make_batch` emits the object masks and labels
but not the texture's stripe angle and weight; :func:`stripe_params` derives them
by replaying the generator's random stream through its own ``_background`` (the
world is not changed). Also here: the shape templates and the template score used
to ask which shape an optimized image looks like.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..toy import world as shapes

STRIPES: tuple[str, ...] = ("stripes |", "stripes /", "stripes -", "stripes \\")
COLOURS: tuple[str, ...] = ("black", "blue", "green", "cyan", "red", "magenta", "yellow", "white")
"""Corner ``k`` of the RGB cube has R = bit 2, G = bit 1, B = bit 0 of ``k``."""
CONCEPTS: tuple[str, ...] = shapes.CLASSES + ("shape", "background") + STRIPES + COLOURS
STRIPE_SHARE = 0.5  # the stripes' weight 1 - w above which an image's stripes count


@dataclass
class ToyConcepts:
    """Toy-world images with a pixel mask per concept.

    Shapes:
        images: ``(N, 3, S, S)`` in [0, 1]; masks: ``(N, K, S, S)`` bool with
        ``K = len(names)``; labels: ``(N, objects)``.
    """

    images: torch.Tensor
    masks: torch.Tensor
    labels: torch.Tensor
    names: tuple[str, ...] = CONCEPTS


class _Recorder:
    """Passes calls to a numpy Generator and keeps ``(low, high, result)`` of scalar ``uniform`` calls."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng, self.uniform_calls = rng, []

    def uniform(self, low=0.0, high=1.0, size=None):
        out = self._rng.uniform(low, high, size)
        if size is None:
            self.uniform_calls.append((low, high, float(out)))
        return out

    def __getattr__(self, name: str):
        return getattr(self._rng, name)


def stripe_params(seed: int, index: int, objects: int = 1, size: int = 64) -> tuple[float, float]:
    """The stripe angle (radians, in [0, pi)) and the stripes' weight ``1 - w`` of one image.

    Replays ``make_batch``'s random stream for image ``index`` through the world's own
    ``_background``: the angle is its draw from ``uniform(0, pi)`` and ``w`` its last draw.
    The pattern is ``sin(2 pi f (x cos a + y sin a) + phase)``: it varies along the
    direction ``a``, so its lines run at ``a + 90`` degrees (y pointing down).
    """
    rec = _Recorder(np.random.default_rng([seed, objects, size, index]))
    shapes._background(rec, size)
    angle = next(v for lo, hi, v in rec.uniform_calls if hi == np.pi)
    return angle, 1.0 - rec.uniform_calls[-1][2]


def stripe_bin(angle: float) -> int:
    """Index into :data:`STRIPES` of the lines' direction for a pattern angle ``angle``."""
    # angle 0: varies along x -> vertical lines "|"; pi/4: lines run up-right "/";
    # pi/2: horizontal "-"; 3 pi/4: lines run down-right "\".
    return int(round(angle / (math.pi / 4))) % 4


def colour_masks(images: torch.Tensor) -> torch.Tensor:
    """Nearest RGB-cube corner of each pixel, one mask per corner of :data:`COLOURS`.

    Shapes:
        images: ``(N, 3, S, S)``; returns ``(N, 8, S, S)`` bool (one True per pixel).
    """
    bits = (images > 0.5).long()  # (N, 3, S, S)
    corner = bits[:, 0] * 4 + bits[:, 1] * 2 + bits[:, 2]  # (N, S, S)
    return corner[:, None] == torch.arange(8).view(1, 8, 1, 1)


def toy_concepts(n: int, seed: int, objects: int = 1, size: int = 64) -> ToyConcepts:
    """Images of :func:`helpers.shapes.make_batch` and the masks of all :data:`CONCEPTS`.

    Shapes:
        see :class:`ToyConcepts`; ``K = 20``.
    """
    batch = shapes.make_batch(n, seed, objects=objects, size=size)
    n_cls = len(shapes.CLASSES)
    masks = torch.zeros(n, len(CONCEPTS), size, size, dtype=torch.bool)
    for k in range(n_cls):
        masks[:, k] = (batch.masks & (batch.labels == k)[:, :, None, None]).any(dim=1)
    inside = batch.masks.any(dim=1)  # (N, S, S)
    masks[:, n_cls], masks[:, n_cls + 1] = inside, ~inside
    first = n_cls + 2
    for i in range(n):
        angle, weight = stripe_params(seed, i, objects, size)
        if weight >= STRIPE_SHARE:
            masks[i, first + stripe_bin(angle)] = ~inside[i]
    masks[:, first + len(STRIPES):] = colour_masks(batch.images)
    return ToyConcepts(images=batch.images, masks=masks, labels=batch.labels)


def shape_templates(side: int = 48, radii: tuple[float, ...] = (9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0),
                    rotations: int = 24) -> torch.Tensor:
    """Each shape at the centre of a ``side``-square, at each radius and ``rotations`` angles,
    as zero-mean unit-norm maps (the toy world's circumradii run from 9 to 15 pixels).

    Shapes:
        returns ``(6, len(radii) * rotations, side, side)`` float32.
    """
    out = torch.zeros(len(shapes.CLASSES), len(radii) * rotations, side, side)
    for k in range(len(shapes.CLASSES)):
        for i, (radius, r) in enumerate((q, r) for q in radii for r in range(rotations)):
            m = shapes._shape_mask(k, side, side / 2, side / 2, radius, 2 * math.pi * r / rotations)
            t = torch.from_numpy(m.astype(np.float32))
            t = t - t.mean()
            out[k, i] = t / t.norm()
    return out


def template_scores(image: torch.Tensor, templates: torch.Tensor | None = None) -> torch.Tensor:
    """How much each shape is in an image: best normalized cross-correlation over positions,
    sizes and angles.

    The image is reduced to its deviation from its mean colour (a flat shape on a
    different background is then bright whatever the colours); each template is
    slid over it, and the score is the largest correlation of the template with the
    zero-mean, unit-norm window under it. The image is padded with its mean colour
    so that every pixel can be a template's centre (without it, a 48-pixel template
    on a 64-pixel image reaches only the middle 17 x 17 centres, and shapes near the
    border are misjudged: 87 of 200 toy images right instead of 200).

    Shapes:
        image: ``(3, S, S)``; returns ``(6,)``.
    """
    templates = shape_templates() if templates is None else templates
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a tensor (3, S, S), got {shape}")
    k, r, side = templates.shape[:3]
    lum = (image - image.mean(dim=(1, 2), keepdim=True)).norm(dim=0)[None, None]  # (1, 1, S, S)
    # Zero (= the mean colour) around the image, so a template's centre reaches every pixel.
    lum = F.pad(lum, (side // 2, side - 1 - side // 2) * 2)  # (1, 1, S + side - 1, S + side - 1)
    ones = torch.ones(1, 1, side, side)
    total, sq = F.conv2d(lum, ones), F.conv2d(lum ** 2, ones)  # window sums
    centred_norm = (sq - total ** 2 / side ** 2).clamp(min=1e-12).sqrt()  # (1, 1, h, w)
    corr = F.conv2d(lum, templates.reshape(k * r, 1, side, side)) / centred_norm  # (1, k*r, h, w)
    return corr.reshape(k, -1).amax(dim=1)


def template_net(shape: str, side: int = 33, radius: float = 12.0, theta: float = 0.3) -> nn.Sequential:
    """A planted detector of one shape: a ``side``-square convolution whose weights are the
    shape's zero-mean mask (a matched filter, equal on R, G and B), then a ReLU.

    Its centre cell is largest for a bright copy of the shape on a dark square, so a
    feature visualization of it can be checked with :func:`template_scores` (the
    check's positive control). Use it with ``layers = [("match", net)]``.

    Shapes:
        input ``(N, 3, S, S)``; output ``(N, 1, S, S)``.
    """
    if shape not in shapes.CLASSES:
        raise ValueError(f"shape must be one of {shapes.CLASSES}, got {shape!r}")
    m = torch.from_numpy(shapes._shape_mask(shapes.CLASSES.index(shape), side, side / 2, side / 2,
                                            radius, theta).astype(np.float32))
    w = m - m.mean()  # (side, side), zero mean
    conv = nn.Conv2d(3, 1, side, padding=side // 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_((w / w.norm()).expand(1, 3, side, side))
    net = nn.Sequential(conv, nn.ReLU()).eval()
    net.requires_grad_(False)
    return net


def shape_drawings(side: int = 64, radius: float = 12.0, rotations: int = 12,
                   grey: tuple[tuple[float, float], ...] = ((0.1, 0.9), (0.9, 0.1), (0.2, 0.6))
                   ) -> torch.Tensor:
    """Each shape drawn alone at the centre, flat grey on a flat grey background: no texture,
    no colour, ``rotations`` angles and the ``(shape, background)`` grey levels of ``grey``.

    Shapes:
        returns ``(6, rotations * len(grey), 3, side, side)`` in [0, 1].
    """
    out = torch.zeros(len(shapes.CLASSES), rotations * len(grey), 3, side, side)
    for k in range(len(shapes.CLASSES)):
        for r in range(rotations):
            m = torch.from_numpy(shapes._shape_mask(k, side, side / 2, side / 2, radius,
                                                    2 * math.pi * r / rotations)).float()
            for j, (fg, bg) in enumerate(grey):
                out[k, r * len(grey) + j] = bg + (fg - bg) * m  # broadcast to (3, side, side)
    return out
