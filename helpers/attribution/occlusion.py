"""Occlusion (Zeiler & Fergus 2014): hide one patch at a time and watch the class score.

A perturbation method: forward passes only, no gradients. All occluded copies
of all images go through the model in batches of ``batch_size``. Listed in
:data:`helpers.attribution.ATTRIBUTIONS` with the gradient methods.

For notebook 9.4 (measuring how far a heat map can be trusted, issue 11).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..contract import check_x, is_single, logits_of, targets_from, warn_if_training
from ..registry import register
from .base import Attribution, baseline_like, check_count, check_reduce, finish, pair, rows


def mean_input(model: nn.Module) -> float | torch.Tensor:
    """The input ``model`` treats as average: the reference for occlusion.

    A network that normalizes its own input (a submodule with ``mean`` and ``std``
    tensors, like the toy nets' ``Normalize``, which take [0, 1] images) gets that
    ``mean``; any other network takes normalized input, where 0.0 is its
    normalization's mean colour.

    Shapes:
        returns ``(1, 3, 1, 1)`` or a float.
    """
    for module in model.modules():
        mean, std = getattr(module, "mean", None), getattr(module, "std", None)
        if isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor):
            return mean.detach().reshape(1, -1, 1, 1)
    return 0.0


@register("occlusion", family="attribution", label="Occlusion")
def occlusion(model: nn.Module, x: torch.Tensor, class_idx: object = None, *,
              window: int | tuple[int, int] | None = None,
              stride: int | tuple[int, int] | None = None,
              baseline: float | torch.Tensor | None = None, batch_size: int = 32,
              reduce: str = "positive") -> Attribution:
    """Occlusion (Zeiler & Fergus 2014): how much the class score drops when a patch is hidden.

    Formula:
        ``raw(p) = mean over windows P containing p of [y^c(x) - y^c(x with P := x')]``,
        the same for the three channels. Windows start at ``0, stride, 2*stride, ...``
        until one reaches the border, the last one cut there (as captum's
        ``Occlusion``): every pixel is covered. ``map = minmax(max(raw, 0))``: high
        where hiding the patch lowers the score.

    Args:
        model, x, class_idx, reduce: as for :func:`helpers.attribution.saliency`.
        window: the patch's height and width (one int for a square); ``None``
            means a quarter of the shorter image side (56 for 224 x 224: 49 patches
            with the default stride, a few seconds per image on one CPU thread).
        stride: the step between patches, at most ``window``; ``None`` means half
            the window (rounded down, at least 1).
        baseline: the value ``x'`` hidden pixels take: ``None`` (default) is the
            network's mean input (:func:`mean_input`: the
            mean colour of its normalization, grey 0.5 for the toy nets, 0.0 for a
            network fed normalized input); or a number, or a tensor that broadcasts to ``x``.
        batch_size: occluded copies per forward pass (no gradients are taken).

    Shapes:
        x: ``(N, 3, H, W)``; ``P = (ceil((H-h)/s_h) + 1) * (ceil((W-w)/s_w) + 1)``
        occluded copies per image, ``(N * P, 3, H, W)`` in all; masks ``(P, H, W)``.
    """
    check_x(x)
    check_reduce(reduce)
    n, _, h, w = x.shape
    wh, ww = pair("window", max(1, min(h, w) // 4) if window is None else window)
    sh, sw = (max(1, wh // 2), max(1, ww // 2)) if stride is None else pair("stride", stride)
    bs = check_count("batch_size", batch_size)
    if wh > h or ww > w or sh > wh or sw > ww:
        raise ValueError(f"need stride <= window <= image size, got stride {(sh, sw)}, "
                         f"window {(wh, ww)}, image {(h, w)}")
    x = x.detach()
    ref = mean_input(model) if baseline is None else baseline
    base = baseline_like(ref, x)
    tops = range(0, sh * math.ceil((h - wh) / sh) + 1, sh)
    lefts = range(0, sw * math.ceil((w - ww) / sw) + 1, sw)
    masks = torch.zeros(len(tops) * len(lefts), h, w, dtype=torch.bool, device=x.device)
    for p, (r, c) in enumerate((r, c) for r in tops for c in lefts):
        masks[p, r:r + wh, c:c + ww] = True  # (P, H, W)
    p_count = masks.shape[0]
    total = torch.zeros(n, h, w, dtype=x.dtype, device=x.device)
    warn_if_training(model)
    with torch.no_grad():
        logits = logits_of(model, x)  # (N, classes)
        targets = targets_from(class_idx, n, logits)
        score = targets.scores(logits)  # (N,)
        for _, ii, kk in rows(n * p_count, bs, p_count, x.device):
            m = masks[kk][:, None]  # (B, 1, H, W)
            hidden = logits_of(model, torch.where(m, base[ii], x[ii]))  # (B, classes)
            drop = score[ii] - targets.scores(hidden, ii)  # (B,)
            total.index_add_(0, ii, drop[:, None, None] * m[:, 0])
    raw = (total / masks.sum(dim=0))[:, None].repeat(1, 3, 1, 1)  # (N, 3, H, W)
    settings = {"patches": p_count, "window": (wh, ww), "stride": (sh, sw),
                "baseline": "mean input" if baseline is None else
                "tensor" if isinstance(baseline, torch.Tensor) else float(baseline)}
    return finish(raw, targets, "occlusion", reduce, is_single(x, class_idx), settings)
