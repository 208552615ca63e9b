"""The plumbing under every pixel attribution: the result, input checks, gradients, batching.

:mod:`helpers.attribution` and :mod:`helpers.occlusion` build the methods on
these pieces; a notebook only needs :class:`Attribution`.

Conventions: ``x`` is ``(N, 3, H, W)``; ``class_idx`` is ``None`` (each image's
top-1 class), one int (the same class for all) or N ints. Gradients are taken
with ``torch.autograd.grad`` with respect to the input only, inside
:func:`frozen`: the parameters' ``requires_grad`` is switched off and restored
in ``finally``, so nothing lands in ``.grad``. No hook is registered here.

For notebook 9.4 (measuring how far a heat map can be trusted, issue 11).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .arrays import minmax

REDUCTIONS = ("max_abs", "abs_sum", "positive")


@dataclass
class Attribution:
    """What an attribution method computed for one image or a batch.

    Attributes:
        map: the heat map in [0, 1] at the input's size, min-max scaled per
            image after reducing the colour channels (see ``reduction``); float32 numpy.
        raw: the attribution itself, in the input's layout (detached).
        class_idx: the explained class (int), or one per image (list) for a batch.
        method: the method's name in :data:`ATTRIBUTIONS`.
        reduction: how ``map`` was made from ``raw``: ``"max_abs"`` is
            ``max_c |raw_c|`` (Simonyan et al. 2014), ``"abs_sum"`` is
            ``|sum_c raw_c|`` (captum's visualisation), ``"positive"`` is
            ``max(sum_c raw_c, 0)`` (evidence for the class only).
        info: method-specific numbers, e.g. Integrated Gradients' completeness gap.

    Shapes:
        one image (``x`` of shape ``(1, 3, H, W)``): map ``(H, W)``, raw ``(3, H, W)``;
        a batch (``N > 1``): map ``(N, H, W)``, raw ``(N, 3, H, W)``.
    """

    map: np.ndarray
    raw: torch.Tensor
    class_idx: int | list[int]
    method: str
    reduction: str
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # shapes, not arrays: safe to print in a notebook
        return (f"Attribution(method={self.method!r}, class_idx={self.class_idx}, "
                f"map {tuple(self.map.shape)}, raw {tuple(self.raw.shape)}, "
                f"reduction={self.reduction!r}, info keys {sorted(self.info)})")


# ------------------------------------------------------------------ checks ---


def check_x(x: object) -> None:
    """Raise ``TypeError`` / ``ValueError`` unless ``x`` is a float tensor ``(N, 3, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor (N, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] == 0:
        raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}; "
                         f"use bundle.to_input(image) for one image")
    if not x.is_floating_point():
        raise TypeError(f"x must be a float tensor, got {x.dtype}")


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int; ``ValueError`` naming ``name`` unless an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_reduce(reduce: str) -> None:
    """Raise ``ValueError`` unless ``reduce`` is one of :data:`REDUCTIONS`."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduce {reduce!r}; choose one of {REDUCTIONS}")


def logits_of(model: nn.Module, inp: torch.Tensor) -> torch.Tensor:
    """``model(inp)``, checked to be logits ``(M, classes)`` for ``inp`` ``(M, 3, H, W)``."""
    out = model(inp)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != inp.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"the model must return logits (N, classes), got {shape} "
                        f"for {inp.shape[0]} images")
    return out


def parse_classes(class_idx: object, n: int, device: torch.device) -> torch.Tensor:
    """An int or N ints as a long tensor ``(N,)``; the range is checked by :func:`targets_of`."""
    if isinstance(class_idx, (torch.Tensor, np.ndarray)) and class_idx.ndim == 0:
        class_idx = class_idx.item()
    if isinstance(class_idx, (int, np.integer)) and not isinstance(class_idx, (bool, np.bool_)):
        items = [int(class_idx)] * n
    elif isinstance(class_idx, (list, tuple, torch.Tensor, np.ndarray)):
        items = class_idx.tolist() if hasattr(class_idx, "tolist") else list(class_idx)
        if len(items) != n:
            raise ValueError(f"class_idx has {len(items)} entries but x holds {n} images")
        for c in items:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
                raise TypeError(f"class_idx entries must be integers, got {c!r}")
    else:
        raise TypeError(f"class_idx must be None, an int or {n} ints, got {class_idx!r}")
    return torch.tensor(items, dtype=torch.long, device=device)


def targets_of(class_idx: object, n: int, logits: torch.Tensor) -> torch.Tensor:
    """``class_idx`` (None, an int or N ints) as a long tensor ``(N,)`` in range of ``logits``."""
    if class_idx is None:
        return logits.detach().argmax(dim=1)
    targets = parse_classes(class_idx, n, logits.device)
    classes = logits.shape[1]
    bad = targets[(targets < 0) | (targets >= classes)]
    if len(bad):
        raise IndexError(f"class_idx {int(bad[0])} is out of range: the model has {classes} "
                         f"classes (0 to {classes - 1})")
    return targets


def resolve_classes(model: nn.Module, x: torch.Tensor, class_idx: object) -> torch.Tensor:
    """Targets ``(N,)``: one forward pass without gradients when ``class_idx`` is None."""
    if class_idx is not None:
        return parse_classes(class_idx, x.shape[0], x.device)
    with torch.no_grad():
        return logits_of(model, x).argmax(dim=1)


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


def warn_if_training(model: nn.Module) -> None:
    """Warn when ``model`` is in training mode: attributions assume ``model.eval()``."""
    if model.training:
        warnings.warn(f"{type(model).__name__} is in training mode; call model.eval() first "
                      f"(batch norm and dropout would change the attributions)", stacklevel=3)


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Parameters frozen and gradients on; ``requires_grad`` restored in ``finally``.

    Gradients then flow to the input only: no parameter gradient is computed and
    nothing accumulates in ``.grad``. Warns when the model is in training mode
    (batch norm would mix the images of a batch).
    """
    warn_if_training(model)
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in params:
            p.requires_grad_(False)
        with torch.enable_grad():
            yield
    finally:
        for p in params:
            p.requires_grad_(True)


def input_grads(model: nn.Module, inp: torch.Tensor, class_idx: object,
                check: Callable[[torch.Tensor], None] | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of each row's class score w.r.t. its input row; call inside ``frozen``.

    ``check(score)``, when given, runs between the forward and the backward pass
    (e.g. to inspect the autograd graph) and may raise.

    Shapes:
        inp: ``(M, 3, H, W)``; returns grads ``(M, 3, H, W)`` and targets ``(M,)``.
    """
    leaf = inp.detach().requires_grad_(True)
    logits = logits_of(model, leaf)  # (M, classes)
    targets = targets_of(class_idx, len(inp), logits)
    score = logits.gather(1, targets[:, None]).sum()  # images are independent in eval mode
    if not score.requires_grad:
        raise RuntimeError("the class score does not depend on x")
    if check is not None:
        check(score)
    (grads,) = torch.autograd.grad(score, leaf)
    return grads, targets


def rows(total: int, batch_size: int, per_image: int, device: torch.device):
    """Chunks of flat row indices ``j``: image ``j // per_image``, item ``j % per_image``."""
    for start in range(0, total, batch_size):
        j = torch.arange(start, min(start + batch_size, total), device=device)
        yield j, j // per_image, j % per_image


def finish(raw: torch.Tensor, targets: torch.Tensor, method: str, reduce: str,
           info: dict[str, Any] | None = None) -> Attribution:
    """Reduce the channels, min-max each image, squeeze a batch of one; pack the result.

    ``info`` values that are per image are lists (or arrays) of length N; for a
    batch of one they become their single element.

    Shapes:
        raw: ``(N, 3, H, W)``; targets: ``(N,)``.
    """
    raw = raw.detach()
    if reduce == "max_abs":
        m = raw.abs().amax(dim=1)  # (N, H, W)
    elif reduce == "abs_sum":
        m = raw.sum(dim=1).abs()
    else:
        m = raw.sum(dim=1).clamp(min=0)
    maps = minmax(m.float(), dims=(1, 2)).clamp_(0.0, 1.0).cpu().numpy().astype(np.float32)
    info = dict(info or {})
    if raw.shape[0] == 1:
        info = {k: (v[0] if isinstance(v, (list, np.ndarray, torch.Tensor)) else v)
                for k, v in info.items()}
        return Attribution(maps[0], raw[0], int(targets[0]), method, reduce, info)
    return Attribution(maps, raw, targets.tolist(), method, reduce, info)


def pair(name: str, value: object) -> tuple[int, int]:
    """An int or a ``(height, width)`` pair of positive ints, as ``(height, width)``."""
    hw = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(hw) != 2:
        raise ValueError(f"{name} must be an int or (height, width), got {value!r}")
    return check_count(name, hw[0]), check_count(name, hw[1])
