"""RISE (Petsiuk et al. 2018): show the model random parts of the image, average what it says.

A perturbation method for a black box: forward passes only, no gradients. Each
mask is a coarse random grid of kept / hidden cells, upsampled bilinearly and
shifted by a random sub-cell offset, so that it has soft edges anywhere in the
image. All masked copies of all images go through the model in batches.

For notebook 9.4's method menu (issue 19).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import check_x, is_single, logits_of, targets_from, warn_if_training
from ..registry import register
from .base import Attribution, baseline_like, check_count, check_reduce, finish, rows
from .occlusion import mean_input

SCORES = ("softmax", "logit")


def mask_grids(count: int, cells: int = 7, p: float = 0.5, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The random part of RISE's masks: coarse binary grids and sub-cell shifts.

    Drawn from a private generator seeded with ``seed`` (the global RNG is untouched).

    Returns:
        grids of 0 / 1 (1 = kept, with probability ``p``) and shifts in ``[0, 1)``,
        a fraction of one cell (rows, columns).

    Shapes:
        grids ``(count, 1, cells, cells)``; shifts ``(count, 2)``.
    """
    count, cells = check_count("count", count), check_count("cells", cells)
    if not 0 < p <= 1:
        raise ValueError(f"p (the probability of keeping a cell) must be in (0, 1], got {p!r}")
    gen = torch.Generator().manual_seed(int(seed))
    grids = (torch.rand(count, 1, cells, cells, generator=gen) < p).float()
    return grids, torch.rand(count, 2, generator=gen)


def upsample_masks(grids: torch.Tensor, shifts: torch.Tensor, size: tuple[int, int]
                   ) -> torch.Tensor:
    """Masks at the image's size: each grid upsampled to ``(cells + 1)`` cells and cropped.

    Formula:
        a cell is ``ceil(H / cells) x ceil(W / cells)`` pixels; the grid is upsampled
        bilinearly to ``(cells + 1)`` cells a side, then an ``H x W`` window is cut
        starting ``floor(shift * cell)`` pixels down and right (Petsiuk et al. 2018, §3.2).

    Shapes:
        grids: ``(M, 1, s, s)``; shifts: ``(M, 2)``; returns ``(M, H, W)`` in [0, 1].
    """
    h, w = size
    s = grids.shape[-1]
    ch, cw = math.ceil(h / s), math.ceil(w / s)
    up = F.interpolate(grids, size=((s + 1) * ch, (s + 1) * cw), mode="bilinear",
                       align_corners=False)[:, 0]  # (M, (s+1) ch, (s+1) cw)
    dy = (shifts[:, 0] * ch).long()  # (M,)
    dx = (shifts[:, 1] * cw).long()
    r = (dy[:, None] + torch.arange(h))[:, :, None]  # (M, H, 1)
    c = (dx[:, None] + torch.arange(w))[:, None, :]  # (M, 1, W)
    return up[torch.arange(len(up))[:, None, None], r, c].clamp_(0.0, 1.0)  # rounding: 1 + 1e-7


@register("rise", family="attribution", label="RISE")
def rise(model: nn.Module, x: torch.Tensor, class_idx: object = None, *, count: int = 1000,
         cells: int = 7, p: float = 0.5, seed: int = 0, masks: torch.Tensor | None = None,
         score: str = "softmax", baseline: float | torch.Tensor | None = None,
         batch_size: int = 64, reduce: str = "positive") -> Attribution:
    """RISE: each pixel's saliency is the mean score of the masked images that keep it.

    Formula:
        ``raw(p) = sum_i f_c(x_i) M_i(p) / (count * mean(M))``, where
        ``x_i = x' + M_i * (x - x')`` is the image with mask ``M_i`` (hidden pixels
        take the reference ``x'``), ``f_c`` the class's softmax probability (or
        logit) and ``mean(M)`` the mean of all masks over all pixels (the paper's
        ``E[M] = p``, measured on the masks used). The same for the three channels.

    Args:
        model, x, class_idx, reduce: as for :func:`helpers.attribution.saliency`;
            ``None`` means the top-1 class of the clean image.
        count: masks per image, i.e. forward passes per image (Petsiuk et al. used
            4000 to 8000 on ImageNet; the default 1000 is a few seconds per toy
            image; on a photo it costs 1000 forward passes of the model).
        cells, p: the coarse grid is ``cells x cells``, each cell kept with probability ``p``.
        seed: seed of the masks; every image of the batch gets the same masks.
        masks: given masks ``(M, H, W)`` in [0, 1] instead of random ones
            (``count``, ``cells``, ``p`` and ``seed`` are then ignored).
        score: ``"softmax"`` (the paper: the class probability) or ``"logit"``.
        baseline: the reference ``x'``: ``None`` is the network's mean input
            (:func:`~helpers.attribution.occlusion.mean_input`: 0.0 for a network
            fed normalized input, which is the paper's ``x * M``), or a number or tensor.
        batch_size: masked copies per forward pass.

    Shapes:
        x: ``(N, 3, H, W)``; masks ``(M, H, W)``; ``N * M`` masked copies in all.
    """
    check_x(x)
    check_reduce(reduce)
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {SCORES}")
    bs = check_count("batch_size", batch_size)
    n, _, h, w = x.shape
    if masks is None:
        grids, shifts = mask_grids(count, cells, p, seed)
        def masks_at(k: torch.Tensor) -> torch.Tensor:
            return upsample_masks(grids[k.cpu()], shifts[k.cpu()], (h, w)).to(x)
    else:
        if not isinstance(masks, torch.Tensor) or masks.ndim != 3 or masks.shape[1:] != (h, w):
            got = tuple(masks.shape) if isinstance(masks, torch.Tensor) else type(masks).__name__
            raise ValueError(f"masks must be a tensor (M, {h}, {w}), got {got}")
        fixed = masks.detach().to(x)
        def masks_at(k: torch.Tensor) -> torch.Tensor:
            return fixed[k]
    m_count = len(grids) if masks is None else len(masks)
    x = x.detach()
    base = baseline_like(mean_input(model) if baseline is None else baseline, x)
    total = torch.zeros(n, h, w, dtype=x.dtype, device=x.device)
    mask_sum = torch.zeros((), dtype=x.dtype, device=x.device)
    warn_if_training(model)
    with torch.no_grad():
        targets = targets_from(class_idx, n, logits_of(model, x))
        for _, ii, kk in rows(n * m_count, bs, m_count, x.device):
            m = masks_at(kk)  # (B, H, W)
            out = logits_of(model, base[ii] + m[:, None] * (x[ii] - base[ii]))  # (B, classes)
            if score == "softmax":
                out = out.softmax(dim=1)
            f = targets.scores(out, ii)  # (B,); a target callable gets these scores
            total.index_add_(0, ii, f[:, None, None] * m)
            mask_sum += m.sum()
    mask_mean = mask_sum / (n * m_count * h * w)
    raw = (total / (m_count * mask_mean))[:, None].repeat(1, 3, 1, 1)  # (N, 3, H, W)
    settings = {"masks": m_count, "mask_mean": float(mask_mean), "score": score,
                "cells": None if masks is not None else cells, "p": None if masks is not None else p}
    return finish(raw, targets, "rise", reduce, is_single(x, class_idx), settings)
