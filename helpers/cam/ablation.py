"""Ablation-CAM (Desai & Ramaswamy 2020): weight each map by the score drop when it is removed.

The weights are a weight function of the engine (:mod:`helpers.cam.weights`' contract),
but computing them needs the layer's output replaced, once per channel. Two paths give
the same scores:

- ``"tail"``: the layer's output from the engine's one forward pass is copied, one
  channel zeroed per copy, and only the network after the layer runs on the copies
  (:func:`helpers.cam.tail.layer_tail`, a torch.fx cut of the model). Used when the rest
  of the network reads the input through the layer alone (no skip connection around it).
- ``"full"``: the whole network runs on copies of the image while
  :class:`helpers.hooks.Replace` zeroes one channel per row of the layer's output.

The result's ``settings["path"]`` says which one ran, ``settings["path_reason"]`` why
the tail was not used.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..explanation import Explanation
from ..hooks import Replace
from ..registry import register
from .engine import LayerPass, Reshape
from .methods import run
from .tail import layer_tail

ABLATION_BATCH = 32
"""Ablated copies per forward pass (pytorch-grad-cam's default ``batch_size``)."""
PATHS = ("auto", "tail", "full")

Scorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(images (b,), channels (b,)) -> outputs (b, classes)``, row j with one channel zeroed."""


def _tail_scorer(p: LayerPass, tail: nn.Module) -> Scorer:
    def score(images: torch.Tensor, chans: torch.Tensor) -> torch.Tensor:
        copies = p.acts[images]  # (b, C, h, w), a copy (indexing with a tensor)
        copies[torch.arange(len(chans), device=chans.device), chans] = 0.0
        return tail(copies)

    return score


def _full_scorer(p: LayerPass) -> Scorer:
    def score(images: torch.Tensor, chans: torch.Tensor) -> torch.Tensor:
        def zero(out: torch.Tensor) -> torch.Tensor:
            out = out.clone()
            out[torch.arange(len(chans), device=chans.device), chans] = 0.0  # row j: one channel
            return out

        with Replace(p.layer[1], zero):
            return p.model(p.x[images].detach())

    return score


def ablation_weights(p: LayerPass, *, batch_size: int = ABLATION_BATCH, path: str = "auto",
                     report: dict | None = None) -> torch.Tensor:
    """The relative drop of the target score when map ``k`` is set to zero.

    Formula:
        ``w_k = (y^c - y^c_k) / y^c``, where ``y^c_k`` is the score with ``A^k := 0``.

    Cost: ``N * C`` ablated copies, ``batch_size`` per pass, through the network after the
    layer (``path="tail"``) or through the whole network (``path="full"``); ``"auto"``
    takes the tail when :func:`helpers.cam.tail.layer_tail` can cut the model there.

    Args:
        p: the engine's pass (no gradients needed).
        batch_size: ablated copies per pass.
        path: ``"auto"``, ``"tail"`` (raises if the model cannot be cut at the layer) or
            ``"full"``.
        report: if given, receives ``path`` (the one used) and ``path_reason``.

    Shapes:
        acts: ``(N, C, h, w)``; returns ``(N, C)``.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    tail, reason = layer_tail(p.model, p.layer[0]) if path != "full" else (None, "path='full'")
    if tail is None and path == "tail":
        raise ValueError(f"cannot run only the network after layer {p.layer[0]!r}: {reason}")
    score = _tail_scorer(p, tail) if tail is not None else _full_scorer(p)
    n, c = p.acts.shape[:2]
    base = p.targets.scores(p.logits).float()  # (N,)
    ablated = p.acts.new_empty(n * c, dtype=torch.float32)
    with torch.no_grad():
        for start in range(0, n * c, batch_size):
            j = torch.arange(start, min(start + batch_size, n * c), device=p.acts.device)
            images = j // c  # copy j: image j // C with channel j % C zeroed
            ablated[start:start + len(j)] = p.targets.scores(score(images, j % c),
                                                             images.tolist()).float()
    if report is not None:
        report.update(path="tail" if tail is not None else "full", path_reason=reason)
    weights = ablated.reshape(n, c)
    return (base[:, None] - weights) / base[:, None]  # (N, C)


@register("ablation_cam", family="cam", label="Ablation-CAM")
def ablation_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                 class_idx: object = None, *, reshape: Reshape | None = None,
                 batch_size: int = ABLATION_BATCH, path: str = "auto") -> Explanation:
    """Ablation-CAM: ``M = ReLU(sum_k w_k A^k)`` with :func:`ablation_weights`; no gradients.

    Args:
        model, layer, x, class_idx: as :func:`helpers.cam.grad_cam`.
        reshape: not supported (the channels are zeroed in the layer's own output).
        batch_size: ablated copies per pass.
        path: ``"auto"`` (the network after the layer only, when it can be cut there),
            ``"tail"`` or ``"full"``; see :func:`ablation_weights`.

    Shapes:
        x: ``(N, 3, H, W)``; returns maps ``(N, H, W)``, raws ``(N, h, w)``,
        extras ``weights (N, C)``; settings ``path``, ``path_reason``, ``batch_size``.
    """
    if reshape is not None:
        raise ValueError("ablation_cam zeroes channels of the layer's own (N, C, h, w) output; "
                         "a layer that needs reshape= is not supported")
    report: dict = {}
    res = run(ablation_weights, model, layer, x, class_idx, gradients=False,
              method="ablation_cam", batch_size=batch_size, path=path, report=report)
    res.settings.update(report, batch_size=batch_size)
    return res
