"""Small networks for the shapes toy world: one backbone, two heads, shipped weights.

``vgg``: a VGG-style backbone (four conv-bn-relu blocks, 8-16-32-32 channels, max
pooling after the first three) and a **flatten + fully connected** head like
VGG16's classifier (max pool, flatten, linear 512-128, ReLU, dropout, linear
128-6). It has no class weights, so CAM does not apply and Grad-CAM is needed.

``gap``: the same backbone with **global average pooling + one linear layer**,
the architecture CAM was defined for.

``vgg_shuffled``: the ``vgg`` architecture trained on the same images with
shuffled labels, for the data-randomization sanity check (Adebayo et al. 2018).

Every network takes images in [0, 1] directly: its first layer, ``normalize``,
subtracts :data:`MEAN` and divides by :data:`STD` per channel. The weights are
trained by ``scripts/train_shapes.py`` on ``helpers.toy.world.make_batch`` images.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..images import DATA_DIR
from ..models.sources import build_with_weights, load_weights
from .pool import MaxPool2d

KINDS: tuple[str, ...] = ("vgg", "gap", "vgg_shuffled")
"""The shipped networks, loaded by :func:`load_net`."""
MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
"""Per-channel mean of the training images, rounded (measured: 0.498, 0.500, 0.507)."""
STD: tuple[float, float, float] = (0.3, 0.3, 0.3)
"""Per-channel standard deviation, rounded (measured: 0.296, 0.295, 0.294)."""
NUM_CLASSES = 6
CHANNELS: tuple[int, ...] = (8, 16, 32, 32)
"""Output channels of the four conv-bn-relu blocks."""
MODEL_DIR = DATA_DIR / "models"


class Normalize(nn.Module):
    """``(x - MEAN) / STD`` per channel, as a layer, so the networks take [0, 1] images.

    Shapes:
        x: ``(N, 3, H, W)``; returns the same shape.
    """

    def __init__(self, mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _backbone(channels: tuple[int, ...]) -> nn.Sequential:
    """Conv-bn-relu blocks; every block but the last ends with a 2x2 max pool (64 -> 8)."""
    blocks, c_in = [], 3
    for i, c_out in enumerate(channels):
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(c_out), nn.ReLU()]
        if i < len(channels) - 1:
            layers.append(MaxPool2d(2))
        blocks.append(nn.Sequential(*layers))
        c_in = c_out
    return nn.Sequential(*blocks)


class ShapesVGG(nn.Module):
    """VGG-style backbone + flatten + fully connected head (no class weights).

    Shapes:
        x: ``(N, 3, 64, 64)`` in [0, 1]; ``features`` output ``(N, 32, 8, 8)``;
        returns logits ``(N, 6)``.
    """

    def __init__(self, classes: int = NUM_CLASSES, hidden: int = 128, dropout: float = 0.3,
                 channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        self.normalize = Normalize()
        self.features = _backbone(channels)
        self.classifier = nn.Sequential(
            MaxPool2d(2), nn.Flatten(),  # (N, C * 4 * 4)
            nn.Linear(channels[-1] * 4 * 4, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(x)))


class ShapesGAP(nn.Module):
    """The same backbone + global average pooling + one linear layer (CAM applies).

    Shapes:
        x: ``(N, 3, H, W)`` in [0, 1]; ``features`` output ``(N, 32, H/8, W/8)``;
        returns logits ``(N, 6)``.
    """

    def __init__(self, classes: int = NUM_CLASSES, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        self.normalize = Normalize()
        self.features = _backbone(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(self.normalize(x))), 1))


def build_net(kind: str) -> nn.Module:
    """A freshly initialised network of ``kind`` (``"vgg"``, ``"gap"`` or ``"vgg_shuffled"``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown shapes network {kind!r}; choose one of {list(KINDS)}")
    return ShapesGAP() if kind == "gap" else ShapesVGG()


def load_net(kind: str, directory: str | Path | None = None) -> nn.Module:
    """Load a shipped network in eval mode on the CPU (memory-mapped, ``weights_only=True``).

    Args:
        kind: ``"vgg"`` (flatten + FC head), ``"gap"`` (GAP + linear) or
            ``"vgg_shuffled"`` (``vgg`` trained on shuffled labels).
        directory: where ``shapes_<kind>.pt`` lives; default ``data/models/``.

    Raises:
        ValueError: unknown ``kind``.
        FileNotFoundError: the weight file is missing.
    """
    build_net(kind)  # checks kind before looking for a file
    path = Path(directory or MODEL_DIR) / f"shapes_{kind}.pt"
    return load_file(lambda: build_net(kind), path, f"the {kind!r} shapes network",
                     "python scripts/train_shapes.py")


def load_file(build: Callable[[], nn.Module], path: Path, what: str, train: str) -> nn.Module:
    """``build()`` with the weights of ``path`` (memory-mapped, ``weights_only=True``), in eval mode.

    Raises:
        FileNotFoundError: ``path`` is missing; the message says how to train ``what``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no weights for {what} at {path}; train them with: {train}")
    return build_with_weights(build, load_weights(path)).eval()


def target_layer(net: nn.Module) -> nn.Module:
    """The last convolutional block (conv-bn-relu, 8 x 8 map at 64 x 64): the CAM / Grad-CAM layer.

    For the ``gap`` network its output is exactly what global average pooling reads.

    Shapes:
        the layer outputs ``(N, 32, 8, 8)`` for ``(N, 3, 64, 64)`` input.
    """
    if not isinstance(net, (ShapesVGG, ShapesGAP)):
        raise TypeError(f"expected a shapes network (ShapesVGG or ShapesGAP), "
                        f"got {type(net).__name__}")
    return net.features[-1]


def class_weights(net: nn.Module) -> torch.Tensor:
    """The ``gap`` network's class weights ``W`` (the fc weight), for CAM.

    Shapes:
        returns ``(classes, C) = (6, 32)``.

    Raises:
        TypeError: a ``vgg`` network, whose flatten + FC head has no class weights.
    """
    if isinstance(net, ShapesVGG):
        raise TypeError("no class weights: flatten + FC head, CAM does not apply — use Grad-CAM")
    if not isinstance(net, ShapesGAP):
        raise TypeError(f"expected a shapes network, got {type(net).__name__}")
    return net.fc.weight.detach()


@torch.no_grad()
def predict_classes(net: nn.Module, images: torch.Tensor, k: int = 1,
                    batch_size: int = 256) -> torch.Tensor:
    """The top-``k`` classes of each image, in eval mode, in chunks of ``batch_size``.

    With ``k = 2`` on two-object images, an image counts as right when the two
    predicted classes are the two present ones (the order does not matter).

    Shapes:
        images: ``(N, 3, S, S)`` in [0, 1]; returns ``(N, k)`` int64.
    """
    was_training = net.training
    net.eval()
    try:
        out = [net(images[i:i + batch_size]).topk(k, dim=1).indices
               for i in range(0, images.shape[0], batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out)
