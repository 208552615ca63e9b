"""Where a layer's cells really look: the centre of their effective receptive field.

Upsampling draws cell ``(i, j)`` of an ``h x w`` map at the centre of its patch,
``((i + 0.5) H / h, (j + 0.5) W / w)``. The pixels that move the cell most may sit
elsewhere (asymmetric padding of stride-2 convolutions, for one). The effective
receptive field (Luo et al. 2016) is ``|d A(i, j) / d x|``; its centre of mass is
where the cell looks. :func:`erf_offset` measures the mean offset between the two;
:func:`helpers.explanation.upsampled` can draw the cells there (``shift=``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..contract import frozen, layer_of
from ..hooks import Capture


def erf_offset(model: nn.Module, layer: nn.Module | str, size: int = 224, *,
               samples: int = 4, seed: int = 0) -> tuple[float, float]:
    """Mean ``(dy, dx)`` in input pixels from where a cell is drawn to where it looks.

    Formula:
        ``G_ij = sum_{n, c} |d sum_k A^k_ij(x_n) / d x_n[c]|`` over ``samples`` Gaussian
        inputs; ``centre_ij = sum_p (p + 0.5) G_ij(p) / sum_p G_ij(p)``;
        ``offset = mean_ij (centre_ij - (i + 0.5) * size / h)`` (and the same for ``x``).
        Negative: the cells look up (or left) of where they are drawn.

    Args:
        model: any module in eval mode; nothing on it changes (parameters frozen).
        layer: the layer whose cells are measured (a submodule or its name).
        size: the square input's side.
        samples: random inputs averaged.
        seed: their seed.

    Shapes:
        x: ``(samples, 3, size, size)``; the layer's output ``(samples, C, h, w)``.
    """
    name, module = layer_of(model, layer)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, 3, size, size, generator=gen).requires_grad_(True)
    with frozen(model), Capture({name: module}, detach=False) as cap:
        model(x)
        acts = cap.acts[name]  # (S, C, h, w)
        h, w = acts.shape[-2:]
        cells = acts.sum(dim=(0, 1))  # (h, w)
        pos = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
        offsets = []
        for i in range(h):
            for j in range(w):
                (g,) = torch.autograd.grad(cells[i, j], x, retain_graph=True)
                m = g.abs().sum(dim=(0, 1))  # (size, size)
                cy = float((m.sum(1) * pos).sum() / m.sum()) - (i + 0.5) * size / h
                cx = float((m.sum(0) * pos).sum() / m.sum()) - (j + 0.5) * size / w
                offsets.append((cy, cx))
    t = torch.tensor(offsets)
    return float(t[:, 0].mean()), float(t[:, 1].mean())
