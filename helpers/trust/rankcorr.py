"""Rank correlations for comparing importance scores, written out (no scipy needed).

* ``kendall_tau``: Kendall's tau-b with its two-sided p-value;
* ``spearman``: Spearman's rho;
* ``summarize``: mean, std, quartiles and the share of significant positive correlations,
  as Jain & Wallace (2019) report them per data set.

Imports nothing of ours, so any module (text or images) can use it.

Introduced in notebooks/09_ext_trust (text section).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def _as_pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(torch.as_tensor(a).detach().cpu(), dtype=np.float64)
    b = np.asarray(torch.as_tensor(b).detach().cpu(), dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two 1-D score vectors of one length, got {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a rank correlation needs at least 2 tokens, got {len(a)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite")
    return a, b


@functools.lru_cache(maxsize=256)
def _inversions_cdf(n: int) -> np.ndarray:
    """P(D <= d) for the number D of inversions of a uniformly random permutation of n."""
    f = np.ones(1)
    for k in range(2, n + 1):  # adding element k adds 0..k-1 inversions, uniformly
        big = np.concatenate([np.zeros(k), np.cumsum(np.concatenate([f, np.zeros(k - 1)]))])
        f = (big[k:] - big[:-k]) / k  # (k(k-1)/2 + 1,)
    return np.cumsum(f)


def _tie_sums(x: np.ndarray) -> tuple[float, float, float]:
    t = np.unique(x, return_counts=True)[1].astype(np.float64)  # sizes of tie groups
    return (t * (t - 1) / 2).sum(), (t * (t - 1) * (t - 2)).sum(), (t * (t - 1) * (2 * t + 5)).sum()


def kendall_tau(a: Any, b: Any) -> tuple[float, float]:
    """Kendall's tau-b and its two-sided p-value.

    ``tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))`` with C, D the concordant and
    discordant pairs, ``n0 = n(n-1)/2`` and n1, n2 the pairs tied in ``a``, in ``b``.
    The p-value is exact without ties (the distribution of D over all n!
    orderings) and otherwise the normal approximation with the tie-corrected
    variance of C - D (Kendall 1970), as ``scipy.stats.kendalltau`` computes them.

    Returns:
        ``(tau, p)``; both NaN when one input is constant.

    Shapes:
        a, b: (T,), T >= 2.
    """
    a, b = _as_pair(a, b)
    n = len(a)
    i, j = np.triu_indices(n, 1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])  # (n0,)
    n0, s = n * (n - 1) / 2, float((sa * sb).sum())  # s = C - D
    (ta, ua, va), (tb, ub, vb) = _tie_sums(a), _tie_sums(b)
    if ta == n0 or tb == n0:
        return math.nan, math.nan
    tau = float(np.clip(s / math.sqrt((n0 - ta) * (n0 - tb)), -1, 1))
    if ta == 0 and tb == 0:
        dis = int(round((n0 - s) / 2))
        p = 2 * _inversions_cdf(n)[min(dis, int(n0) - dis)]
    else:
        m = n * (n - 1.0)
        var = (m * (2 * n + 5) - va - vb) / 18 + 2 * ta * tb / m
        if n > 2:
            var += ua * ub / (9 * m * (n - 2))
        p = math.erfc(abs(s) / math.sqrt(2 * var))
    return tau, float(min(p, 1.0))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    _, inv = np.unique(x, return_inverse=True)
    return (np.bincount(inv, r) / np.bincount(inv))[inv]


def spearman(a: Any, b: Any) -> float:
    """Spearman's rho: Pearson's correlation of the (tie-averaged) ranks; NaN if one is constant.

    Shapes:
        a, b: (T,), T >= 2.
    """
    ra, rb = (_ranks(v) - (len(v) + 1) / 2 for v in _as_pair(a, b))
    den = math.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / den) if den > 0 else math.nan


def summarize(values: Sequence[float], pvalues: Sequence[float] | None = None,
              alpha: float = 0.05) -> dict[str, float]:
    """Mean, std (ddof 0), median and quartiles of per-sentence correlations (NaN skipped).

    With ``pvalues``, also ``sig_frac``: the share of sentences whose correlation is
    positive with a two-sided p-value below ``alpha``.

    Shapes:
        values, pvalues: (N,) -> ``{"n", "mean", "std", "median", "q1", "q3"[, "sig_frac"]}``.
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        raise ValueError("no finite correlation to summarize")
    q1, med, q3 = np.percentile(v[ok], [25, 50, 75])
    out = {"n": int(ok.sum()), "mean": float(v[ok].mean()), "std": float(v[ok].std()),
           "median": float(med), "q1": float(q1), "q3": float(q3)}
    if pvalues is not None:
        p = np.asarray(pvalues, dtype=np.float64)
        out["sig_frac"] = float(((v[ok] > 0) & (p[ok] < alpha)).mean())
    return out
