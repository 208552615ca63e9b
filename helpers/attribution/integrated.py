"""Integrated Gradients (Sundararajan et al. 2017): gradients along a straight path from a baseline.

The path points of all images go through the model in batches of ``batch_size``;
the quadrature (Gauss-Legendre or a Riemann sum, named as captum names them)
weights their input gradients. Listed in :data:`helpers.attribution.ATTRIBUTIONS`
with the other pixel methods.

For notebook 9.4 (measuring how far a heat map can be trusted, issue 11).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..contract import check_x, frozen, is_single, logits_of, resolve_targets, targets_from
from ..registry import register
from .base import Attribution, baseline_like, check_count, check_reduce, finish, input_grads, rows

IG_METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_middle",
              "riemann_right")


def _ig_nodes(method: str, steps: int) -> tuple[list[float], list[float]]:
    """Points ``alpha_k`` in [0, 1] and weights ``w_k`` (summing to 1) of the path integral."""
    if method == "gausslegendre":
        t, w = np.polynomial.legendre.leggauss(steps)
        return (0.5 * (t + 1)).tolist(), (0.5 * w).tolist()
    if method == "riemann_trapezoid":
        check_count("steps", steps, 2)
        w = [1.0 / (steps - 1)] * steps
        w[0] /= 2
        w[-1] /= 2
        return np.linspace(0.0, 1.0, steps).tolist(), w
    offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}[method]
    return [(k + offset) / steps for k in range(steps)], [1.0 / steps] * steps


@register("integrated_gradients", family="attribution", label="Integrated Gradients")
def integrated_gradients(model: nn.Module, x: torch.Tensor, class_idx: object = None, *,
                         steps: int = 50, baseline: float | torch.Tensor | None = None,
                         method: str = "gausslegendre", batch_size: int = 16,
                         completeness: bool = True, reduce: str = "abs_sum") -> Attribution:
    """Integrated Gradients (Sundararajan et al. 2017): gradients along a path from a baseline.

    Formula:
        ``raw = (x - x') * sum_k w_k * d y^c / d x (x' + alpha_k (x - x'))``, the
        quadrature of ``(x - x') * int_0^1 grad(x' + a (x - x')) da``. Completeness:
        ``sum(raw) ~ y^c(x) - y^c(x')``; the gap is ``info["delta"]``.

    Args:
        model, x, class_idx, reduce: as for :func:`saliency`.
        steps: quadrature points ``alpha_k`` (>= 1; >= 2 for the trapezoid).
        baseline: ``x'``; ``None`` means zeros, which after ImageNet
            normalisation is the mean colour; a number, or a tensor that
            broadcasts to ``x`` (e.g. a blurred image).
        method: one of :data:`IG_METHODS`, as captum names them. Weights sum to 1;
            captum's ``riemann_trapezoid`` uses ``1/steps`` (ends halved), which sums
            to ``1 - 1/steps``, so its result is ours times ``(steps - 1) / steps``.
        batch_size: path points per forward pass.
        completeness: also run ``x`` and ``x'`` through the model (one pass of
            ``2N`` images, no gradients) for ``info["delta"]`` and ``info["score_gap"]``;
            with ``False`` and a given ``class_idx`` that pass is skipped.

    Shapes:
        x, baseline: ``(N, 3, H, W)``; path points: ``(N * steps, 3, H, W)``.
    """
    check_x(x)
    check_reduce(reduce)
    k = check_count("steps", steps)
    bs = check_count("batch_size", batch_size)
    if method not in IG_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {IG_METHODS}")
    alphas, weights = (torch.tensor(v, dtype=x.dtype, device=x.device)
                       for v in _ig_nodes(method, k))
    x = x.detach()
    n = x.shape[0]
    base = baseline_like(baseline, x)
    diff = x - base  # (N, 3, H, W)
    total = torch.zeros_like(x)
    extras: dict[str, Any] = {}
    with frozen(model):
        if completeness:
            with torch.no_grad():
                ends = logits_of(model, torch.cat([x, base]))  # (2N, classes)
            targets = targets_from(class_idx, n, ends[:n])
            gap = targets.scores(ends[:n]) - targets.scores(ends[n:])  # y(x) - y(x'), (N,)
        else:
            targets = resolve_targets(model, x, class_idx)
        for _, ii, kk in rows(n * k, bs, k, x.device):
            path = base[ii] + alphas[kk, None, None, None] * diff[ii]  # (B, 3, H, W)
            grads = input_grads(model, path, targets, ii)  # checks the range
            total.index_add_(0, ii, grads * weights[kk, None, None, None])
    raw = diff * total
    if completeness:
        extras = {"delta": (raw.sum(dim=(1, 2, 3)) - gap).tolist(), "score_gap": gap.tolist()}
    return finish(raw, targets, "integrated_gradients", reduce, is_single(x, class_idx),
                  {"steps": k, "method": method}, **extras)
