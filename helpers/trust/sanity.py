"""Sanity checks for saliency maps (Adebayo et al. 2018): randomize the model, compare the maps.

If a map explains the model, destroying the model's weights must change the map.
Cascading randomization re-initializes the weights from the classifier down,
block by block, and compares each step's map with the original one by rank
correlation (Spearman) and structural similarity (SSIM). A method whose maps
stay the same is showing the image (edges), not the model.

The caller's model is never touched: randomization works on a deep copy.
Spearman comes from :mod:`helpers.trust.rankcorr`; SSIM is written here in torch (no
scikit-image needed). The tests compare them with SciPy and with hand-computed cases.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import rankcorr


def blocks_top_down(model: nn.Module) -> list[str]:
    """Names of the model's parameterized blocks from the output down to the input.

    The top-level children in registration order, with each ``nn.Sequential`` or
    ``nn.ModuleList`` child opened one level (``blocks.0``, ``blocks.1``, ...),
    keeping those that hold parameters, reversed. For EfficientNet-Lite0:
    ``classifier, bn2, conv_head, blocks.6, ..., blocks.0, bn1, conv_stem``.
    Registration order is the forward order in torchvision and timm models;
    pass your own list to :func:`cascading_randomization` where it is not.
    """
    names = []
    for name, child in model.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            names += [f"{name}.{n}" for n, c in child.named_children()
                      if any(True for _ in c.parameters())]
        elif any(True for _ in child.parameters()):
            names.append(name)
    if not names:
        raise ValueError("the model has no parameters to randomize")
    return names[::-1]


@torch.no_grad()
def randomize_(module: nn.Module, generator_seed: int) -> None:
    """Re-initialize every parameter (and BN running statistics) of ``module`` in place.

    Modules with ``reset_parameters`` (convolutions, linear and normalization
    layers) get PyTorch's default initialization; a parameter of a module without
    it is re-drawn from ``N(0, std of the old values)``. Seeded by ``generator_seed``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        done: set[int] = set()
        for m in module.modules():
            if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
                m.reset_parameters()
                done.update(id(p) for p in m.parameters(recurse=False))
        for p in module.parameters():
            if id(p) not in done:
                std = float(p.std()) if p.numel() > 1 else 1.0
                p.copy_(torch.randn(p.shape, device=p.device, dtype=p.dtype) * (std or 1.0))


def cascading_randomization(
    model: nn.Module, blocks: Sequence[str] | None = None, seed: int = 0,
    cascade: bool = True,
) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(block_name, randomized_copy)`` after each block is re-initialized.

    Args:
        model: the trained model; it is deep-copied once and never changed.
        blocks: names of submodules from the top (classifier) down; default
            :func:`blocks_top_down`.
        seed: seeds each block's new weights (block ``i`` uses ``seed + i``).
        cascade: ``True`` (Adebayo's cascading test): the randomization
            accumulates, so step ``i`` has blocks ``0..i`` randomized; ``False``
            (independent test): each step randomizes only its own block of a fresh copy.

    Yields:
        the block's name and the copy in eval mode. With ``cascade=True`` it is the
        same copy each time, changed further: compute what you need before the next step.
    """
    names = list(blocks) if blocks is not None else blocks_top_down(model)
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"the model has no submodule named {missing[0]!r}; "
                         f"top-down blocks are {blocks_top_down(model)}")
    work = copy.deepcopy(model).eval()
    for i, name in enumerate(names):
        if not cascade:
            work = copy.deepcopy(model).eval()
        randomize_(work.get_submodule(name), seed + i)
        yield name, work


def _numpy(a: np.ndarray | torch.Tensor) -> np.ndarray:
    out = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return out.astype(np.float64)


def _flat_pair(a: np.ndarray | torch.Tensor,
               b: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    x, y = _numpy(a), _numpy(b)
    if x.shape != y.shape:
        raise ValueError(f"maps of different shapes {x.shape} and {y.shape}: resize one first")
    if x.size < 2:
        raise ValueError("need at least two values to correlate")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("maps contain NaN or inf values")
    return x, y


def spearman(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Spearman rank correlation of two maps: the Pearson correlation of their ranks.

    The maps are flattened and passed to :func:`helpers.trust.rankcorr.spearman`: ties get
    average ranks; NaN when either map is constant (no ranking to compare).

    Shapes:
        a, b: any shape, the same (e.g. ``(H, W)``); flattened.
    """
    x, y = _flat_pair(a, b)
    return rankcorr.spearman(x.ravel(), y.ravel())


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, data_range: float = 1.0,
         sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> float:
    """Mean structural similarity (Wang et al. 2004) with an 11 x 11 Gaussian window.

    With Gaussian-weighted local means ``mu``, variances ``s^2`` and covariance
    ``s_ab`` (weights sum to 1), ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2``:

    ``SSIM = ((2 mu_a mu_b + C1)(2 s_ab + C2)) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2))``,

    averaged over every window position fully inside the image (like
    scikit-image's ``structural_similarity(..., gaussian_weights=True,
    use_sample_covariance=False)``). ``L = data_range`` is 1 for maps in [0, 1].

    Shapes:
        a, b: ``(H, W)`` with H, W >= 11.
    """
    x, y = _flat_pair(a, b)
    if x.ndim != 2:
        raise ValueError(f"SSIM compares two (H, W) maps, got shape {x.shape}")
    r = int(3.5 * sigma + 0.5)  # window radius: 5 for sigma 1.5 (an 11 x 11 window)
    if min(x.shape) < 2 * r + 1:
        k = 2 * r + 1
        raise ValueError(f"maps of shape {x.shape} are smaller than the {k}x{k} window")
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-t**2 / (2 * sigma**2))
    g = g / g.sum()
    win = (g[:, None] * g[None, :])[None, None]  # (1, 1, k, k), sums to 1
    st = torch.from_numpy(np.stack([x, y, x * x, y * y, x * y]))[:, None]  # (5, 1, H, W)
    mu_a, mu_b, aa, bb, ab = F.conv2d(st, win)[:, 0]  # each (H - 2r, W - 2r)
    va, vb, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return float(s.mean())
