"""The plumbing under every pixel attribution: option checks, input gradients, batching, packing.

The input, target and frozen-parameter rules are :mod:`helpers.contract`'s, the result
:class:`helpers.explanation.Explanation` (``Attribution`` is its former name). Gradients
are taken with ``torch.autograd.grad`` with respect to the input only, inside
:func:`helpers.contract.frozen`. No hook is registered here.

For notebook 9.4 (measuring how far a heat map can be trusted, issue 11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..contract import Targets, check_x, frozen, logits_of, warn_if_training  # noqa: F401
from ..explanation import Attribution, Explanation, scaled

REDUCTIONS = ("max_abs", "abs_sum", "positive")
# check_x, frozen, logits_of and warn_if_training lived here before helpers.contract; the
# old path (helpers.attribution_base) still finds them.


# ------------------------------------------------------------------ checks ---


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int; ``ValueError`` naming ``name`` unless an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_reduce(reduce: str) -> None:
    """Raise ``ValueError`` unless ``reduce`` is one of :data:`REDUCTIONS`."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduce {reduce!r}; choose one of {REDUCTIONS}")


def baseline_like(baseline: float | torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """The reference input ``x'`` at ``x``'s shape: zeros for ``None``, a constant, or a tensor
    that broadcasts to ``x`` (``(3, H, W)``, ``(1, 3, H, W)`` or ``(N, 3, H, W)``).
    """
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    if not isinstance(baseline, torch.Tensor):
        raise TypeError(f"baseline must be None, a number or a tensor, "
                        f"got {type(baseline).__name__}")
    try:
        return baseline.detach().to(x).broadcast_to(x.shape)
    except RuntimeError:
        raise ValueError(f"baseline of shape {tuple(baseline.shape)} does not broadcast to x "
                         f"{tuple(x.shape)}") from None


# ----------------------------------------------------------------- engine ---


def input_grads(model: nn.Module, inp: torch.Tensor, targets: Targets,
                images: torch.Tensor | None = None,
                check: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
    """Gradient of each row's target score w.r.t. its input row; call inside ``frozen``.

    Row ``j`` of ``inp`` belongs to image ``images[j]`` (default: row ``j`` is image ``j``).
    ``check(score)``, when given, runs between the forward and the backward pass
    (e.g. to inspect the autograd graph) and may raise.

    Shapes:
        inp: ``(M, 3, H, W)``; images: ``(M,)``; returns grads ``(M, 3, H, W)``.
    """
    leaf = inp.detach().requires_grad_(True)
    logits = logits_of(model, leaf)  # (M, classes)
    score = targets.scores(logits, images).sum()  # images are independent in eval mode
    if not score.requires_grad:
        raise RuntimeError("the class score does not depend on x")
    if check is not None:
        check(score)
    (grads,) = torch.autograd.grad(score, leaf)
    return grads


def rows(total: int, batch_size: int, per_image: int, device: torch.device):
    """Chunks of flat row indices ``j``: image ``j // per_image``, item ``j % per_image``."""
    for start in range(0, total, batch_size):
        j = torch.arange(start, min(start + batch_size, total), device=device)
        yield j, j // per_image, j % per_image


def finish(raw: torch.Tensor, targets: Targets, method: str, reduce: str, single: bool,
           settings: dict[str, Any] | None = None, **extras: Any) -> Explanation:
    """Reduce the channels, min-max each image; pack the result.

    ``settings`` are the method's constants; ``extras`` its per-image values (length N).

    Shapes:
        raw: ``(N, 3, H, W)``; returns maps ``(N, H, W)``.
    """
    raw = raw.detach()
    if reduce == "max_abs":
        m = raw.abs().amax(dim=1)  # (N, H, W)
    elif reduce == "abs_sum":
        m = raw.sum(dim=1).abs()
    else:
        m = raw.sum(dim=1).clamp(min=0)
    return Explanation(scaled(m), raw, list(targets.classes), method, dict(extras),
                       {"reduction": reduce, **(settings or {})}, single=single)


def pair(name: str, value: object) -> tuple[int, int]:
    """An int or a ``(height, width)`` pair of positive ints, as ``(height, width)``."""
    hw = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(hw) != 2:
        raise ValueError(f"{name} must be an int or (height, width), got {value!r}")
    return check_count(name, hw[0]), check_count(name, hw[1])
