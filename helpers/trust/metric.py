"""Metrics on one signature: ``metric(model, x, maps, targets) -> Score``.

Every metric judges maps of any method (it never calls one): it takes the model, the
inputs ``(N, 3, H, W)``, one map per image ``(N, H, W)`` (e.g. ``Explanation.maps``) and
the targets of :mod:`helpers.contract`, and returns a :class:`Score`: one value per image
and their summary. A new metric is one function here (or in its own file of ``trust/``)
with this signature, plus its test. The older functions of :mod:`.faithfulness`
(``deletion_curve``...) keep their names and compute with the same code.

Introduced in notebooks/09_4_trust.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .confidence import confidence_values
from .faithfulness import KINDS, Substrate, perturbation_curves

Maps = np.ndarray | torch.Tensor


@dataclass
class Score:
    """What a metric found.

    Attributes:
        name: the metric.
        values: one value per image.
        summary: their mean (the number a paper's table prints).
        higher_is_better: how to read it.
        details: per-image extras (a curve per image, the classes followed...).

    Shapes:
        values: ``(N,)``.
    """

    name: str
    values: np.ndarray
    higher_is_better: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> float:
        return float(np.mean(self.values))

    def __repr__(self) -> str:
        return (f"Score({self.name}: mean {self.summary:.3f} over {len(self.values)} images, "
                f"{'higher' if self.higher_is_better else 'lower'} is better)")


def _curve_metric(kind: str) -> Callable[..., Score]:
    """The AUC metric of one kind of curve, with that kind's default substrate."""
    k = KINDS[kind]

    def metric(model: nn.Module, x: torch.Tensor, maps: Maps, targets: object = None, *,
               steps: int = 50, substrate: Substrate | None = k.substrate,
               batch_size: int = 32) -> Score:
        f, curves, classes = perturbation_curves(model, x, maps, kind, targets, steps, substrate,
                                                 batch_size)
        aucs = np.sum(np.diff(f) * (curves[:, 1:] + curves[:, :-1]) / 2, axis=1)  # trapezoid
        return Score(kind, aucs, k.higher_is_better,
                     {"fractions": f, "curves": curves, "targets": classes})

    better = "higher" if k.higher_is_better else "lower"
    metric.__name__ = metric.__qualname__ = kind
    metric.__doc__ = (f"{kind.capitalize()} AUC of each image (Petsiuk et al. 2018): "
                      f"{better} = more faithful." + """

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)``; details ``curves (N, steps + 1)``.
    """)
    return metric


deletion = _curve_metric("deletion")
insertion = _curve_metric("insertion")


def average_drop(model: nn.Module, x: torch.Tensor, maps: Maps, targets: object = None) -> Score:
    """Average Drop (Chattopadhay et al. 2018) per image: ``max(0, Y - O) / Y``; lower is better.

    ``Y`` is the target's probability for ``x``, ``O`` for ``map * x``. The image's
    ``increase`` flag (``Y < O``) is in ``details``.

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)`` in [0, 1].
    """
    drop, increase = confidence_values(model, x, maps, targets)
    return Score("average_drop", drop, False, {"increase": increase})


METRICS = {"deletion": deletion, "insertion": insertion, "average_drop": average_drop}
"""Name -> metric ``(model, x, maps, targets=None, **options) -> Score``."""
