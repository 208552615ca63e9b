"""EfficientNet-Lite0 in plain PyTorch, laid out exactly as timm's ``tf_efficientnet_lite0``.

The bundled ImageNet classifier of the course. timm builds it in one call, but
importing timm loads its whole model zoo (about 117 MiB of private memory and a
second per kernel); this module builds the same network from ``torch.nn`` alone.
Module names, parameter names and class names are timm's (``conv_stem``,
``bn1``, ``blocks.<stage>.<index>.conv_dw``, ``BatchNormAct2d``, ...), so
:func:`helpers.models.sources.bundled_state_dict` loads into it with ``strict=True``,
layer names such as ``"blocks.3.0"`` and ``"bn2"`` keep working, and printed
layer tables read as before.

What the TensorFlow-trained Lite weights need (Tan & Le 2019, the Lite variant):

* BatchNorm with ``eps = 1e-3``, each followed by its activation inside the same
  module (``BatchNormAct2d``: ``bn2``'s output is already after ReLU6);
* ReLU6 activations, no squeeze-and-excitation, a fixed 32-channel stem and
  1280-channel head;
* TensorFlow's ``"SAME"`` padding: for a stride-1 convolution it is the usual
  symmetric ``(k - 1) / 2``; for a stride-2 one it depends on the input size and
  puts the odd pixel at the bottom/right (``Conv2dSame``);
* a residual connection only where stride is 1 and the channel count is kept.

Imports nothing of ours. Used by :mod:`helpers.models` (notebooks/00_start_here).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # TensorFlow's BatchNorm epsilon, which the weights were trained with
STEM, HEAD, CLASSES = 32, 1280, 1000
# One row per stage: (block, repeats, kernel, first stride, expansion, out channels);
# "ds" = depthwise-separable conv, "ir" = inverted residual (MBConv). timm's arch_def.
STAGES = (
    ("ds", 1, 3, 1, 1, 16),
    ("ir", 2, 3, 2, 6, 24),
    ("ir", 2, 5, 2, 6, 40),
    ("ir", 3, 3, 2, 6, 80),
    ("ir", 3, 5, 1, 6, 112),
    ("ir", 4, 5, 2, 6, 192),
    ("ir", 1, 3, 1, 6, 320),
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``"SAME"`` padding of one axis: ``(before, after)``.

    Formula:
        ``total = max((ceil(size / stride) - 1) * stride + kernel - size, 0)``;
        ``before = total // 2``, ``after = total - before`` (the odd pixel goes after).
    """
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """A bias-free convolution with TensorFlow ``"SAME"`` padding computed from the input size.

    Shapes:
        x: ``(N, C_in, H, W)`` -> ``(N, C_out, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """``"SAME"`` convolution: static symmetric padding at stride 1, else :class:`Conv2dSame`."""
    if stride == 1:
        return nn.Conv2d(cin, cout, kernel, 1, (kernel - 1) // 2, groups=groups, bias=False)
    return Conv2dSame(cin, cout, kernel, stride, groups)


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm (``eps = 1e-3``) followed by ``drop`` (identity) and ``act`` (ReLU6 or identity).

    Shapes:
        x: ``(N, C, H, W)`` -> same.
    """

    def __init__(self, channels: int, act: bool = True) -> None:
        super().__init__(channels, eps=BN_EPS)
        self.drop = nn.Identity()
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


class DepthwiseSeparableConv(nn.Module):
    """Depthwise ``k×k`` conv + BN-ReLU6, then pointwise ``1×1`` conv + BN (stage 0).

    Shapes:
        x: ``(N, C_in, H, W)`` -> ``(N, C_out, H / stride, W / stride)``.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.has_skip = stride == 1 and cin == cout
        self.conv_dw = conv(cin, cin, kernel, stride, groups=cin)
        self.bn1 = BatchNormAct2d(cin)
        self.aa, self.se = nn.Identity(), nn.Identity()  # no anti-aliasing, no SE in Lite
        self.conv_pw = conv(cin, cout, 1)
        self.bn2 = BatchNormAct2d(cout, act=False)
        self.drop_path = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.se(self.aa(self.bn1(self.conv_dw(x))))))
        return self.drop_path(y) + x if self.has_skip else y


class InvertedResidual(nn.Module):
    """MBConv: ``1×1`` expand + BN-ReLU6, depthwise ``k×k`` + BN-ReLU6, ``1×1`` project + BN.

    Shapes:
        x: ``(N, C_in, H, W)`` -> ``(N, C_out, H / stride, W / stride)``; the input is added
        back when ``stride == 1`` and ``C_in == C_out``.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_skip = stride == 1 and cin == cout
        self.conv_pw = conv(cin, mid, 1)
        self.bn1 = BatchNormAct2d(mid)
        self.conv_dw = conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = BatchNormAct2d(mid)
        self.aa, self.se = nn.Identity(), nn.Identity()
        self.conv_pwl = conv(mid, cout, 1)
        self.bn3 = BatchNormAct2d(cout, act=False)
        self.drop_path = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        y = self.bn3(self.conv_pwl(self.se(self.aa(y))))
        return self.drop_path(y) + x if self.has_skip else y


class SelectAdaptivePool2d(nn.Module):
    """Global average pooling, flattened: ``(N, C, H, W)`` -> ``(N, C)``."""

    def __init__(self) -> None:
        super().__init__()
        self.pool_type = "avg"
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(x))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pool_type={self.pool_type}, flatten={self.flatten})"


class EfficientNet(nn.Module):
    """EfficientNet-Lite0: stem, seven stages of blocks, ``1×1`` head, average pool, linear.

    Shapes:
        x: ``(N, 3, H, W)`` (224×224 for ImageNet) -> logits ``(N, classes)``;
        ``bn2``'s output (the last feature map) is ``(N, 1280, H / 32, W / 32)``.
    """

    def __init__(self, classes: int = CLASSES) -> None:
        super().__init__()
        self.conv_stem = conv(3, STEM, 3, 2)
        self.bn1 = BatchNormAct2d(STEM)
        stages, cin = [], STEM
        for kind, repeats, kernel, stride, expand, cout in STAGES:
            blocks = []
            for i in range(repeats):
                s = stride if i == 0 else 1
                blocks.append(DepthwiseSeparableConv(cin, cout, kernel, s) if kind == "ds"
                              else InvertedResidual(cin, cout, kernel, s, expand))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = conv(cin, HEAD, 1)
        self.bn2 = BatchNormAct2d(HEAD)
        self.global_pool = SelectAdaptivePool2d()
        self.classifier = nn.Linear(HEAD, classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> the last feature map ``(N, 1280, H / 32, W / 32)``."""
        x = self.blocks(self.bn1(self.conv_stem(x)))
        return self.bn2(self.conv_head(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pool(self.forward_features(x)))


def efficientnet_lite0(classes: int = CLASSES) -> EfficientNet:
    """An untrained EfficientNet-Lite0; :func:`helpers.models.sources.build_with_weights` loads weights.

    Example::

        model = sources.build_with_weights(efficientnet_lite0, sources.bundled_state_dict())
    """
    return EfficientNet(classes)
