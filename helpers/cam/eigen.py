"""Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of a layer's activations.

The worked example of "a new CAM method is one function in one file plus its test"
(docs/architecture.md): it is not ``sum_k w_k A^k`` with class-dependent weights, so it
does not use a weight function; it takes the engine's forward pass
(:func:`helpers.cam.engine.layer_pass` without gradients), computes its map, and packs
it with :func:`helpers.cam.methods.finish`. One decorator registers it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..explanation import Explanation
from ..registry import register
from .engine import Reshape, layer_pass
from .methods import finish


def principal_projection(acts: torch.Tensor) -> torch.Tensor:
    """Each position's activations projected on the first principal component of its image.

    Formula:
        ``X = A^T - mean`` (positions x channels, centred over positions),
        ``X = U S V^T``, ``M = X v_1``; the sign of ``v_1`` is chosen so that ``M``
        correlates positively with the channel mean ``1/C sum_k A^k`` (an SVD's sign
        is arbitrary; this one puts the map where the layer is active).

    Shapes:
        acts: ``(N, C, h, w)``; returns ``(N, h, w)``.
    """
    n, c, h, w = acts.shape
    x = acts.float().flatten(2).transpose(1, 2)  # (N, hw, C)
    x = x - x.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)  # vh: (N, min(hw, C), C)
    proj = (x @ vh[:, 0, :, None])[..., 0]  # (N, hw)
    mean = acts.float().mean(dim=1).flatten(1)  # (N, hw)
    agree = ((proj - proj.mean(1, keepdim=True)) * (mean - mean.mean(1, keepdim=True))).sum(1)
    sign = torch.where(agree < 0, -1.0, 1.0)  # (N,)
    return (proj * sign[:, None]).reshape(n, h, w)


@register("eigen_cam", family="cam", label="Eigen-CAM", uses_class=False)
def eigen_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              class_idx: object = None, *, reshape: Reshape | None = None) -> Explanation:
    """Eigen-CAM: the map is the activations' first principal component; no class, no gradient.

    Formula:
        ``M = ReLU(X v_1)`` with ``X`` the centred ``(h*w, C)`` activations and ``v_1``
        their first right singular vector (:func:`principal_projection`), then
        upsampling and min-max.

    Args:
        model: a classifier in eval mode that returns logits ``(N, classes)``.
        layer: the target module (or its name).
        x: one preprocessed image, or a batch.
        class_idx: checked like every method's, but the map does not depend on it;
            the result's ``targets`` are ``None``.
        reshape: turns a non-map output (``(N, tokens, C)``) into ``(N, C, h, w)``.

    Shapes:
        x: ``(N, 3, H, W)``; acts: ``(N, C, h, w)``; returns maps ``(N, H, W)``,
        raws ``(N, h, w)`` (the projection, before ReLU).
    """
    p, batched = layer_pass(model, layer, x, class_idx, gradients=False, reshape=reshape)
    res = finish(principal_projection(p.acts), p, "eigen_cam", batched)
    res.targets = [None] * len(res)
    return res
