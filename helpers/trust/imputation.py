"""ROAD's noisy linear imputation: fill removed pixels from their neighbours, not with a colour.

Deletion replaces pixels by a substrate (grey, the mean colour, a blur). Rong et al.
(2022, "A Consistent and Efficient Evaluation Strategy for Attribution Methods", ROAD)
point out that the *shape* of the removed set then leaks into the image: a grey
square is a new edge the model reacts to, whatever was under it. Their imputation
fills every removed pixel with the weighted mean of its 8 neighbours (1/6 for the
four direct ones, 1/12 for the diagonals), which is a sparse linear system over the
removed pixels, then adds a little Gaussian noise. pytorch-grad-cam's
``NoisyLinearImputer`` (from the ROAD authors' code) is the reference the tests
compare with.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torch import nn

from ..contract import check_maps
from .faithfulness import Curve, auc, rank_pixels

NEIGHBOURS: tuple[tuple[int, int, float], ...] = (
    (1, 1, 1 / 12), (0, 1, 1 / 6), (-1, 1, 1 / 12), (1, -1, 1 / 12),
    (0, -1, 1 / 6), (-1, -1, 1 / 12), (1, 0, 1 / 6), (-1, 0, 1 / 6))
"""``(dy, dx, weight)`` of the 8 neighbours in ROAD's imputation."""


def impute(image: torch.Tensor, keep: torch.Tensor, noise: float = 0.01,
           seed: int = 0) -> torch.Tensor:
    """Noisy linear imputation (ROAD) of the pixels where ``keep`` is False.

    For every removed pixel ``p`` with in-image neighbours ``q`` (weights ``w_q``):
    ``sum_q w_q (v_p - v_q) = 0``, i.e. ``v_p`` is the weighted mean of its
    neighbours, known or removed; solved for all removed pixels at once (sparse LU),
    each channel separately, then ``noise * N(0, 1)`` is added to the filled pixels.
    When no pixel is kept the system has no known value and every constant solves
    it: the image's mean colour is used.

    Args:
        image: one image (any value range; the model's input space is fine).
        keep: True where the pixel stays.
        noise: standard deviation of the added noise (absolute); 0 for none.
        seed: seeds the noise (the global RNG is untouched).

    Shapes:
        image: ``(C, H, W)``; keep: ``(H, W)`` bool; returns ``(C, H, W)``.
    """
    if image.ndim != 3 or keep.shape != image.shape[1:]:
        raise ValueError(f"image must be (C, H, W) and keep (H, W), got {tuple(image.shape)} "
                         f"and {tuple(keep.shape)}")
    c, h, w = image.shape
    img = image.detach().cpu().double().reshape(c, -1).numpy()  # (C, P)
    kept = keep.detach().cpu().bool().reshape(-1).numpy()  # (P,)
    holes = np.flatnonzero(~kept)  # (n,)
    out = img.copy()
    if holes.size == 0:
        return image.clone()
    if not kept.any():
        out[:] = img.mean(axis=1, keepdims=True)
    else:
        var = np.full(h * w, -1)
        var[holes] = np.arange(holes.size)
        rows, cols = holes // w, holes % w
        diag = np.zeros(holes.size)
        rhs = np.zeros((holes.size, c))
        ai, aj, av = [], [], []
        for dy, dx, wt in NEIGHBOURS:
            r, q = rows + dy, cols + dx
            inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
            eq = np.flatnonzero(inside)  # equations with this neighbour
            nb = r[inside] * w + q[inside]
            diag[eq] += wt
            known = kept[nb]
            rhs[eq[known]] += wt * img[:, nb[known]].T
            ai.append(eq[~known])
            aj.append(var[nb[~known]])
            av.append(np.full(int((~known).sum()), -wt))
        ai.append(np.arange(holes.size))
        aj.append(np.arange(holes.size))
        av.append(diag)
        a = coo_matrix((np.concatenate(av), (np.concatenate(ai), np.concatenate(aj))),
                       shape=(holes.size, holes.size)).tocsc()
        out[:, holes] = np.asarray(spsolve(a, rhs)).reshape(holes.size, c).T
    if noise:
        gen = torch.Generator().manual_seed(seed)
        out[:, holes] += noise * torch.randn(c, holes.size, generator=gen, dtype=torch.float64).numpy()
    return torch.from_numpy(out).reshape(c, h, w).to(image)


@torch.no_grad()
def imputed_deletion_curve(model: nn.Module, x: torch.Tensor, saliency: np.ndarray | torch.Tensor,
                           class_idx: int, steps: int = 10, noise: float = 0.01,
                           seed: int = 0) -> Curve:
    """Deletion curve whose removed pixels are filled by :func:`impute` (ROAD's MoRF order).

    At step ``k`` the ``round(k P / steps)`` most salient pixels are removed and
    imputed from the rest (each step solves its own system), ranked as in
    :func:`helpers.trust.faithfulness.perturbation_curve`.

    Shapes:
        x: ``(1, 3, H, W)``; saliency: ``(H, W)``; curve: ``(steps + 1,)``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one image (1, 3, H, W), got {shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer (the number of intervals), got {steps!r}")
    s = check_maps(x, saliency)[0]  # (H, W)
    ranks = rank_pixels(s).view(*s.shape)  # (H, W)
    total = s.numel()
    counts = torch.round(torch.linspace(0, total, steps + 1, dtype=torch.float64)).long()
    batch = torch.stack([impute(x[0], ranks >= int(n), noise, seed + k)
                         for k, n in enumerate(counts)])  # (steps + 1, 3, H, W)
    p = model(batch).float().softmax(dim=1)[:, class_idx].double().cpu().numpy()
    fractions = (counts.double() / total).numpy()
    return Curve("deletion", fractions, p, auc(fractions, p), int(class_idx))
