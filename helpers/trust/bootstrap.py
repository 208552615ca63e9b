"""Many images, one number with its uncertainty: bootstrap intervals and curve shape.

A deletion AUC on one photo says little: the next photo may rank the methods the
other way. Over N images the mean AUC is reported with a percentile bootstrap
interval (Efron 1979): resample the N per-image values with replacement B times,
take the mean of each resample, and report the 2.5 % and 97.5 % quantiles. For two
methods on the same images, bootstrap the per-image *differences* (a paired
interval): it is narrower, because the image's own difficulty cancels.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

import numpy as np


def bootstrap_ci(values: np.ndarray | list[float], level: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile bootstrap interval.

    Args:
        values: one number per image (finite).
        level: the interval's coverage, e.g. 0.95.
        resamples: bootstrap resamples ``B``.
        seed: seeds the resampling.

    Returns:
        ``(mean, low, high)``.

    Shapes:
        values: ``(N,)`` with ``N >= 2``.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"need a 1-D array of at least two values, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("values contain NaN or inf: drop or explain them first")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    idx = np.random.default_rng(seed).integers(0, v.size, size=(resamples, v.size))  # (B, N)
    means = v[idx].mean(axis=1)  # (B,)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(v.mean()), float(low), float(high)


def rises(curve: np.ndarray | list[float], tol: float = 0.0) -> np.ndarray:
    """Where a deletion curve goes *up* (or an insertion curve *down*, pass ``-curve``).

    Returns:
        a bool per step ``k``: ``curve[k + 1] > curve[k] + tol``.

    Shapes:
        curve: ``(K,)`` -> ``(K - 1,)``.
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1 or c.size < 2:
        raise ValueError(f"a curve needs at least two points, got shape {c.shape}")
    return np.diff(c) > tol
