"""Array mechanisms shared by every layer of the package: min-max with a flat-map guard, to_numpy,
and `agreement` (a round-off difference printed as the bound it stays under).

This module sits at the bottom of the import graph: it imports nothing of ours,
so ``images``, ``cam``, ``text``, ``viz``, ``widgets`` and ``exercises`` can all use it.

Introduced in notebooks/09_1_layer_outputs (the guarded min-max of the book's ``showImg``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T", np.ndarray, torch.Tensor)

FLAT_RTOL = 1e-12
"""A map whose range is at most ``FLAT_RTOL * max(1, |max|)`` counts as flat."""


def to_numpy(m: np.ndarray | torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of a tensor or array (moved to the CPU, detached)."""
    if isinstance(m, torch.Tensor):
        m = m.detach().float().cpu().numpy()
    return np.asarray(m, dtype=np.float32)


def minmax(a: T, dims: Sequence[int] | None = None) -> T:
    """Scale to [0, 1] with ``(a - min) / (max - min)``; a flat map becomes all zeros.

    The book's ``showImg`` guards the same division with ``if max_min == 0``;
    here the guard is relative, so a map of ``1e9 + tiny noise`` is also flat.

    Args:
        a: a numpy array or a torch tensor (floating point, or cast to float32).
        dims: the axes to scale over; ``None`` means the whole array. With
            ``dims=(1, 2)`` each channel of a ``(K, h, w)`` stack is scaled on its own.

    Shapes:
        a: any shape, e.g. ``(h, w)`` or ``(K, h, w)``; returns the same shape and type.

    Raises:
        ValueError: empty input, or NaN / inf values.
    """
    if isinstance(a, torch.Tensor):
        t = a.detach() if a.is_floating_point() else a.detach().float()
        if t.numel() == 0:
            raise ValueError("cannot scale an empty map")
        if not bool(torch.isfinite(t).all()):
            raise ValueError("map contains NaN or inf values")
        d = tuple(range(t.ndim)) if dims is None else tuple(dims)
        lo, hi = t.amin(dim=d, keepdim=True), t.amax(dim=d, keepdim=True)
        span = hi - lo
        flat = span <= FLAT_RTOL * hi.abs().clamp_min(1.0)
        out = (t - lo) / torch.where(flat, torch.ones_like(span), span)
        return torch.where(flat, torch.zeros_like(out), out)
    x = np.asarray(a)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    if x.size == 0:
        raise ValueError("cannot scale an empty map")
    if not np.isfinite(x).all():
        raise ValueError("map contains NaN or inf values")
    d = None if dims is None else tuple(dims)
    lo, hi = x.min(axis=d, keepdims=True), x.max(axis=d, keepdims=True)
    span = hi - lo
    flat = span <= FLAT_RTOL * np.maximum(1.0, np.abs(hi))
    out = (x - lo) / np.where(flat, 1.0, span)
    return np.where(flat, 0.0, out).astype(x.dtype, copy=False)


def agreement(diff: float, bound: float) -> str:
    """How closely two computations of one number agree, as a notebook prints it.

    ``"below {bound}"`` when ``diff < bound``, else ``diff`` itself (``.1e``). The digits under
    a float32 round-off bound differ from one CPU to the next (AVX2 and AVX-512 kernels add in
    another order), so a printed ``1.4e-06`` would be this machine's, not the method's; the
    bound is what the computation promises. A NaN is printed, never hidden under the bound.

    >>> agreement(1.4e-06, 1e-05), agreement(0.0, 1e-05), agreement(3e-4, 1e-05)
    ('below 1e-05', 'below 1e-05', '3.0e-04')
    """
    diff, bound = float(diff), float(bound)
    if not bound > 0:
        raise ValueError(f"the bound must be positive, got {bound}")
    return f"below {bound:g}" if diff < bound else f"{diff:.1e}"
