"""The weights of each CAM method: one pure function per method, on one pass through a layer.

Every method of the CAM family computes ``M = ReLU(sum_k w_k * A^k)`` from the
activations ``A`` of one layer; they differ only in the weights ``w``. The engine
in :mod:`helpers.cam.engine` runs the model once (and, for gradient methods, one backward
pass down to the layer), packs what it saw into a :class:`LayerPass`, and calls the
method's weight function. A weight function returns either

- channel weights ``(N, C)``, one number per feature map (Grad-CAM, Grad-CAM++,
  XGrad-CAM, Score-CAM), or
- element-wise weights ``(N, C, h, w)``, one number per activation (HiRes-CAM,
  Layer-CAM); the engine then sums ``w * A`` over the channels.

Each method of :mod:`helpers.cam.methods` is a ``def`` that hands its weight function
to :func:`helpers.cam.methods.run`.

Introduced in notebooks/09_2_2_grad_cam (Grad-CAM's ``alpha``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..arrays import minmax
from .engine import LayerPass

SCORE_CAM_CHANNELS = 64
"""Score-CAM's default channel cap (see :func:`score_cam_weights`)."""

SCORE_CAM_BATCH = 4
"""Masked images per forward pass in Score-CAM. On this CPU small passes are faster per
image (EfficientNet-Lite0, 224x224, 32 maps: 1 to 4 per pass about 2.0 to 2.2 s, 8: 3.4 s,
16: 4.1 s, 32: 6.4 s, machine shared); on a GPU pass a larger ``batch_size``."""


WeightFunction = Callable[..., torch.Tensor]
"""``fn(p: LayerPass, **options) -> (N, C) or (N, C, h, w)``."""


def grad_cam_weights(p: LayerPass) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): the mean gradient of each map.

    Formula:
        ``w_k = 1/(h*w) * sum_ij g^k_ij`` with ``g = d y^c / d A``.

    Shapes:
        returns ``(N, C)``.
    """
    return p.grads.mean(dim=(2, 3))  # (N, C)


def grad_cam_pp_weights(p: LayerPass, *, eps: float = 1e-6) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhyay et al. 2018): positive gradients, weighted per pixel.

    Formula (the paper's eq. 19, with ``exp`` of the score, so that the second and
    third derivatives are powers of the first):
        ``a^k_ij = g_ij^2 / (2 g_ij^2 + sum_ab A^k_ab * g_ij^3 + eps)`` (0 where
        ``g_ij = 0``), ``w_k = sum_ij a^k_ij * ReLU(g^k_ij)``.
        ``eps = 1e-6`` is pytorch-grad-cam's; it matters (gradients are small, and on
        a layer with negative activations the denominator can vanish), so it is
        kept for the two to agree. ``eps=0`` gives the paper's formula.

    Shapes:
        returns ``(N, C)``.
    """
    g = p.grads  # (N, C, h, w)
    g2 = g * g
    s = p.acts.sum(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    denom = 2 * g2 + s * g2 * g + eps
    alpha = torch.where(g != 0, g2 / torch.where(denom != 0, denom, 1.0), 0.0)
    return (alpha * F.relu(g)).sum(dim=(2, 3))  # (N, C)


def xgrad_cam_weights(p: LayerPass) -> torch.Tensor:
    """XGrad-CAM (Fu et al. 2020): gradients weighted by the normalized activation.

    Formula:
        ``w_k = sum_ij (A^k_ij / sum_ab A^k_ab) * g^k_ij`` (0 for a map that sums
        to 0). pytorch-grad-cam adds ``1e-7`` to the sum.

    Shapes:
        returns ``(N, C)``.
    """
    s = p.acts.sum(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    w = (p.grads * p.acts).sum(dim=(2, 3), keepdim=True) / torch.where(s != 0, s, 1.0)
    return w[..., 0, 0]  # (N, C)


def hires_cam_weights(p: LayerPass) -> torch.Tensor:
    """HiRes-CAM (Draelos and Carin 2020): the gradient itself, element by element.

    Formula:
        ``M = ReLU(sum_k g^k * A^k)`` (element-wise product, no spatial mean).

    Shapes:
        returns ``(N, C, h, w)``: ``CamResult.weights`` holds the gradient.
    """
    return p.grads


def layer_cam_weights(p: LayerPass) -> torch.Tensor:
    """Layer-CAM (Jiang et al. 2021): the positive gradient, element by element.

    Formula:
        ``M = ReLU(sum_k ReLU(g^k) * A^k)`` (element-wise).

    Shapes:
        returns ``(N, C, h, w)``: ``CamResult.weights`` holds ``ReLU(g)``, a weight
        per activation rather than per channel.
    """
    return F.relu(p.grads)


def score_cam_weights(p: LayerPass, *, max_channels: int | None = SCORE_CAM_CHANNELS,
                      batch_size: int = SCORE_CAM_BATCH) -> torch.Tensor:
    """Score-CAM (Wang et al. 2020): each map's weight is the score of the image it masks.

    Formula:
        ``H^k = minmax(Up(A^k))`` (bilinear, ``align_corners=False``, to the input size),
        ``s_k = y^c(x * H^k)`` (the class logit of the masked image),
        ``w = softmax_k(s)``; no gradients. Subtracting a baseline score, as the
        paper's CIC does, leaves the softmax unchanged.

    Cost: one forward pass per channel, ``batch_size`` masked images at a time. With
    ``max_channels=K`` only the ``K`` maps with the largest spatial variance are
    scored (as Faster Score-CAM does); the other channels get weight 0 and the
    softmax runs over the ``K``. On the bundled EfficientNet-Lite0 (``bn2``: 1280
    channels, 7x7; one 224x224 forward pass about 20 ms on one thread of this 2-core
    CPU when idle) the default ``K = 64`` takes about 1.3 s per image (measured 4.5 s
    with the machine shared by eight jobs); all 1280 channels would take about 25 s.
    ``max_channels=None`` scores every channel, which is pytorch-grad-cam's definition
    apart from its ``align_corners=True`` upsampling.

    Shapes:
        x: ``(N, 3, H, W)``; acts: ``(N, C, h, w)``; returns ``(N, C)``.
    """
    if max_channels is not None and max_channels < 1:
        raise ValueError(f"max_channels must be a positive int or None, got {max_channels}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    n, c = p.acts.shape[:2]
    k = c if max_channels is None else min(c, max_channels)
    weights = p.acts.new_zeros(n, c)
    size = tuple(p.x.shape[-2:])
    for i in range(n):
        keep = torch.arange(c, device=p.acts.device)
        if k < c:  # (K,) the most varied maps
            keep = p.acts[i].flatten(1).var(dim=1).topk(k).indices
        scores = []
        for j in range(0, k, batch_size):
            a = p.acts[i, keep[j:j + batch_size], None].float()  # (b, 1, h, w)
            up = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
            masks = minmax(up, dims=(1, 2, 3))  # (b, 1, H, W), each in [0, 1]
            with torch.no_grad():
                out = p.model(p.x[i:i + 1].detach() * masks)  # (b, classes)
            scores.append(p.targets.scores(out, [i] * len(out)).float())
        weights[i, keep] = torch.cat(scores).softmax(dim=0).to(weights.dtype)
    return weights  # (N, C)
