"""Average Drop and Increase in Confidence: the model's confidence on the image times its map.

Grad-CAM++ (Chattopadhay et al. 2018) asks how much of the class probability is
left when the image is multiplied by its map (in the model's input space); torchcam
computes the same numbers. Pure functions of tensors: the model is only called under
``torch.no_grad()`` and nothing on it is changed. :mod:`.faithfulness` re-exports them.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..contract import check_maps, logits_of, targets_from


@torch.no_grad()
def confidence_values(model: nn.Module, x: torch.Tensor, maps: np.ndarray | torch.Tensor,
                      class_idx: object = None) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the drop ``max(0, Y - O) / Y`` and whether confidence increased (``Y < O``).

    ``Y`` is the target's probability for ``x``, ``O`` for ``map * x`` (the image
    multiplied by its map in the model's input space).

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)`` in [0, 1]; returns two ``(N,)`` arrays.
    """
    m = check_maps(x, maps)  # (N, H, W)
    p = logits_of(model, x).float().softmax(dim=1)  # (N, classes)
    targets = targets_from(class_idx, x.shape[0], p)
    y = targets.scores(p)  # (N,)
    o = targets.scores(logits_of(model, m[:, None] * x).float().softmax(dim=1))  # (N,)
    return (torch.relu(y - o) / y).cpu().numpy(), (y < o).float().cpu().numpy()


def confidence_change(model: nn.Module, x: torch.Tensor, maps: np.ndarray | torch.Tensor,
                      class_idx: object = None) -> dict[str, float]:
    """Average Drop and Increase in Confidence (Chattopadhay et al. 2018), as in torchcam.

    ``avg_drop = mean_i max(0, Y_i - O_i) / Y_i``;  ``increase = mean_i [Y_i < O_i]``
    (fractions; the papers print them as percentages). See :func:`confidence_values`.

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)`` in [0, 1].
    """
    drop, increase = confidence_values(model, x, maps, class_idx)
    return {"avg_drop": float(drop.mean()), "increase": float(increase.mean())}
