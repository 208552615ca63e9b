"""Ablation-CAM (Desai & Ramaswamy 2020): weight each map by the score drop when it is removed.

The weights are a weight function of the engine (:mod:`helpers.cam.weights`' contract),
but computing them needs the layer's output replaced: :class:`helpers.hooks.Replace`
zeroes one channel per row of a batch of copies of the image.
"""

from __future__ import annotations

import torch
from torch import nn

from ..explanation import Explanation
from ..hooks import Replace
from ..registry import register
from .engine import LayerPass, Reshape
from .methods import run

ABLATION_BATCH = 32
"""Ablated copies per forward pass (pytorch-grad-cam's default ``batch_size``)."""


def ablation_weights(p: LayerPass, *, batch_size: int = ABLATION_BATCH) -> torch.Tensor:
    """The relative drop of the target score when map ``k`` is set to zero.

    Formula:
        ``w_k = (y^c - y^c_k) / y^c``, where ``y^c_k`` is the score with ``A^k := 0``.

    Cost: one forward pass per channel, ``batch_size`` at a time.

    Shapes:
        acts: ``(N, C, h, w)``; returns ``(N, C)``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    n, c = p.acts.shape[:2]
    base = p.targets.scores(p.logits).float()  # (N,)
    weights = p.acts.new_zeros(n, c, dtype=torch.float32)
    for i in range(n):
        for start in range(0, c, batch_size):
            chans = torch.arange(start, min(start + batch_size, c), device=p.acts.device)
            rows = torch.arange(len(chans), device=p.acts.device)

            def zero(out: torch.Tensor, chans: torch.Tensor = chans,
                     rows: torch.Tensor = rows) -> torch.Tensor:
                out = out.clone()
                out[rows, chans] = 0.0  # row j: channel chans[j] removed
                return out

            copies = p.x[i:i + 1].detach().expand(len(chans), *p.x.shape[1:])
            with torch.no_grad(), Replace(p.layer[1], zero):
                out = p.model(copies)  # (b, classes)
            weights[i, chans] = p.targets.scores(out, [i] * len(chans)).float()
    return (base[:, None] - weights) / base[:, None]  # (N, C)


@register("ablation_cam", family="cam", label="Ablation-CAM")
def ablation_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                 class_idx: object = None, *, reshape: Reshape | None = None,
                 batch_size: int = ABLATION_BATCH) -> Explanation:
    """Ablation-CAM: ``M = ReLU(sum_k w_k A^k)`` with :func:`ablation_weights`; no gradients.

    Args:
        model, layer, x, class_idx: as :func:`helpers.cam.grad_cam`.
        reshape: not supported (the channels are zeroed in the layer's own output).
        batch_size: ablated copies per forward pass.

    Shapes:
        x: ``(N, 3, H, W)``; returns maps ``(N, H, W)``, raws ``(N, h, w)``,
        extras ``weights (N, C)``.
    """
    if reshape is not None:
        raise ValueError("ablation_cam zeroes channels of the layer's own (N, C, h, w) output; "
                         "a layer that needs reshape= is not supported")
    return run(ablation_weights, model, layer, x, class_idx, gradients=False,
               method="ablation_cam", batch_size=batch_size)
