"""More shapes networks: head variants of ``vgg`` and the marker-world nets of known reasoning.

Head variants (trained like ``vgg`` and ``gap`` on the plain shapes world, to find by
experiment why Grad-CAM fails on ``vgg``: one change at a time):

=================== ============================================ ===========================
kind                head after the last conv block (32 x 8 x 8)  change from its neighbour
=================== ============================================ ===========================
``vgg`` (shipped)   max pool, flatten, FC 512-128, ReLU, FC-6    --
``vgg_nopool``      flatten, FC 2048-128, ReLU, FC-6             no max pool
``vgg_pool_linear`` max pool, flatten, one linear 512-6          no hidden layer
``vgg_linear``      flatten, one linear 2048-6                   neither
``gap`` (shipped)   global average pool, one linear 32-6         average instead of flatten
=================== ============================================ ===========================

On ``vgg_linear`` the logit is ``y^c = sum_{k,i,j} W^c_{kij} A^k_{ij} + b^c``, so
HiRes-CAM's un-ReLU'd map (gradient times activation, summed over channels) adds up to
``y^c - b^c`` exactly.

Marker-world nets (``shapes_gap`` architecture, trained on :mod:`helpers.toy.markers`):
``marker_shape`` learns the shape's class (the marker is random), ``marker_hans`` the
marker's class (the shape is random: a *Clever Hans* net by construction),
``marker_both`` the class that shape and marker both carry.

Weights: ``data/models/<kind>.pt``, trained by ``scripts/train_toy_nets.py``.

Introduced in notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..models.sources import weight_info
from .pool import MaxPool2d
from .nets import (CHANNELS, MODEL_DIR, NUM_CLASSES, Normalize, ShapesGAP, ShapesVGG, _backbone,
                   load_file)

__all__ = ["HEADS", "MARKER_NETS", "TOY_KINDS", "WEIGHT_SHA256", "ShapesFlat", "build_toy_net",
           "load_toy_net"]

HEADS: dict[str, dict] = {"vgg_nopool": {"pool": False, "hidden": 128},
                          "vgg_pool_linear": {"pool": True, "hidden": None},
                          "vgg_linear": {"pool": False, "hidden": None}}
"""The head variants: ``pool`` (a 2 x 2 max pool before flatten), ``hidden`` (FC width or None)."""
MARKER_NETS: dict[str, str] = {"marker_shape": "shape", "marker_hans": "marker",
                               "marker_both": "both"}
"""Marker-world nets and what their training label was (the shape's, the marker's, both agree)."""
TOY_KINDS: tuple[str, ...] = (*HEADS, *MARKER_NETS)
WEIGHT_SHA256: dict[str, str] = {
    "vgg_nopool": "835302f27111", "vgg_pool_linear": "b3e7e19d6660", "vgg_linear": "affa8aec2164",
    "marker_shape": "e182aba14e38", "marker_hans": "fab8b01a6311", "marker_both": "910ebc3a15af"}
"""SHA-256 prefixes of the shipped ``data/models/<kind>.pt`` (as in ``data/models/README.md``)."""


class ShapesFlat(ShapesVGG):
    """The ``vgg`` backbone + an optional max pool + flatten + (FC-ReLU-dropout-)linear.

    ``ShapesFlat(pool=True, hidden=128)`` has exactly ``ShapesVGG``'s layers.

    Shapes:
        x: ``(N, 3, 64, 64)`` in [0, 1]; ``features`` output ``(N, 32, 8, 8)``;
        returns logits ``(N, 6)``.
    """

    def __init__(self, *, pool: bool, hidden: int | None, classes: int = NUM_CLASSES,
                 dropout: float = 0.3, channels: tuple[int, ...] = CHANNELS) -> None:
        nn.Module.__init__(self)
        self.normalize = Normalize()
        self.features = _backbone(channels)
        side = 4 if pool else 8
        layers: list[nn.Module] = [MaxPool2d(2)] if pool else []
        layers.append(nn.Flatten())  # (N, C * side * side)
        if hidden:
            layers += [nn.Linear(channels[-1] * side * side, hidden), nn.ReLU(),
                       nn.Dropout(dropout), nn.Linear(hidden, classes)]
        else:
            layers.append(nn.Linear(channels[-1] * side * side, classes))
        self.classifier = nn.Sequential(*layers)


def build_toy_net(kind: str) -> nn.Module:
    """A freshly initialised network of ``kind`` (a name in :data:`TOY_KINDS`)."""
    if kind in HEADS:
        return ShapesFlat(**HEADS[kind])
    if kind in MARKER_NETS:
        return ShapesGAP()
    raise ValueError(f"unknown toy network {kind!r}; choose one of {list(TOY_KINDS)}")


def load_toy_net(kind: str, directory: str | Path | None = None) -> nn.Module:
    """Load a shipped toy network in eval mode on the CPU (``weights_only=True``).

    Raises:
        ValueError: unknown ``kind``.
        FileNotFoundError: the weight file is missing.
    """
    build_toy_net(kind)  # checks kind before looking for a file
    path = Path(directory or MODEL_DIR) / f"{kind}.pt"
    net = load_file(lambda: build_toy_net(kind), path, f"the {kind!r} toy network",
                    f"python scripts/train_toy_nets.py --kinds {kind}")
    if directory is None:
        weight_info(path, WEIGHT_SHA256.get(kind))  # warns once if it is not the shipped file
    return net
