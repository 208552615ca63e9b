"""The one contract of every explanation method: inputs, logits, targets, frozen parameters.

- ``x`` is a float tensor ``(N, 3, H, W)`` (:func:`check_x`); the model returns logits
  ``(N, classes)`` (:func:`logits_of`).
- A target (``class_idx``) is ``None`` (each image's top-1 class), one class index for
  every image, one entry per image (a list, tuple, 1-D tensor or array of ints, or of
  callables on one row of logits ``(classes,) -> score``, as pytorch-grad-cam's target
  objects), or one callable on the logits ``(M, classes) -> (M,)`` (e.g. the difference
  of two classes). :class:`Targets` turns any of them into one score per image.
- A metric's maps are one finite ``(H, W)`` map per image (:func:`check_maps`).
- Gradients are taken inside :func:`frozen`: parameters' ``requires_grad`` off and
  restored in ``finally``, so nothing lands in ``.grad``.

Introduced in notebooks/09_2_2_grad_cam (the class score ``y^c`` whose gradient Grad-CAM takes).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

TargetFn = Callable[[torch.Tensor], torch.Tensor]


def check_x(x: object) -> None:
    """Raise ``TypeError`` / ``ValueError`` unless ``x`` is a float tensor ``(N, 3, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor (N, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] == 0:
        raise ValueError(f"x must have shape (N, 3, H, W), (1, 3, H, W) for one image, got "
                         f"{tuple(x.shape)}; use bundle.to_input(image) for one image")
    if not x.is_floating_point():
        raise TypeError(f"x must be a float tensor, got {x.dtype}")


def check_maps(x: torch.Tensor, maps: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``maps`` as a float tensor ``(N, H, W)`` on ``x``'s device, checked against ``x``.

    The one check of the maps a metric judges: one finite map per image, at the input's size.

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)`` (or ``(H, W)`` for one image).
    """
    check_x(x)
    m = maps if isinstance(maps, torch.Tensor) else torch.as_tensor(np.asarray(maps))
    if m.ndim == 2 and x.shape[0] == 1:
        m = m[None]
    if tuple(m.shape) != (x.shape[0], *x.shape[-2:]):
        raise ValueError(f"maps of shape {tuple(m.shape)} do not match the image's (N, H, W) = "
                         f"{(x.shape[0], *x.shape[-2:])}: one map per image at the input's "
                         f"size; upsample a layer map to the input size first")
    if not bool(torch.isfinite(m.float()).all()):
        raise ValueError("saliency map contains NaN or inf values")
    return m.detach().float().to(x.device)


def logits_of(model: nn.Module, inp: torch.Tensor) -> torch.Tensor:
    """``model(inp)``, checked to be logits ``(M, classes)`` for ``inp`` ``(M, 3, H, W)``."""
    out = model(inp)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != inp.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"the model must return logits ({inp.shape[0]}, classes), got {shape}")
    return out


def layer_of(model: nn.Module, layer: nn.Module | str) -> tuple[str, nn.Module]:
    """``(name, module)`` of ``layer`` (a submodule of ``model`` or its name)."""
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError:
            raise ValueError(f"model has no submodule named {layer!r}") from None
    if not isinstance(layer, nn.Module):
        raise TypeError(f"layer must be an nn.Module or a submodule name, "
                        f"got {type(layer).__name__}")
    for name, module in model.named_modules():
        if module is layer:
            return name or "model", module
    raise ValueError(f"layer {type(layer).__name__} is not a submodule of this model")


def _is_many(target: object) -> bool:
    if isinstance(target, (torch.Tensor, np.ndarray)):
        return target.ndim > 0
    return isinstance(target, Sequence) and not isinstance(target, str)


def is_single(x: torch.Tensor, target: object) -> bool:
    """Whether the request was for one image (``(1, 3, H, W)``, target not a sequence).

    Such a result's old accessors (``.cam``, ``.raw``, ``.class_idx``) drop the batch axis.
    """
    return x.shape[0] == 1 and not _is_many(target)


def _is_index(c: object) -> bool:
    return isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_))


@dataclass(frozen=True)
class Targets:
    """What to explain in each image: a class index, a callable on its row, or one callable.

    Attributes:
        classes: the class of each image, ``None`` where a callable decides.
        row_fns: per image, a callable on its row of logits ``(classes,) -> ()``, or None.
        fn: one callable on the logits ``(M, classes) -> (M,)``, or None.
    """

    classes: list[int | None]
    row_fns: tuple[TargetFn | None, ...]
    fn: TargetFn | None = None

    def scores(self, logits: torch.Tensor, images: torch.Tensor | Sequence[int] | None = None
               ) -> torch.Tensor:
        """The target score of each row of ``logits``; row ``j`` belongs to image ``images[j]``.

        Shapes:
            logits: ``(M, classes)``; images: ``(M,)`` (default ``arange(N)``); returns ``(M,)``.
        """
        m, k = logits.shape
        idx = list(range(m)) if images is None else [int(i) for i in images]
        if self.fn is not None:
            out = self.fn(logits)
            if not isinstance(out, torch.Tensor) or out.shape != (m,):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"a target callable must map logits ({m}, {k}) to scores "
                                 f"({m},), got {got}")
            return out
        for i in idx:
            c = self.classes[i]
            if c is not None and not 0 <= c < k:
                raise IndexError(f"class_idx {c} is out of range: the model has {k} classes "
                                 f"(0 to {k - 1})")
        if all(f is None for f in self.row_fns):
            rows = torch.arange(m, device=logits.device)
            cls = torch.tensor([self.classes[i] for i in idx], device=logits.device)
            return logits[rows, cls]
        return torch.stack([self.row_fns[i](logits[j]) if self.row_fns[i] is not None
                            else logits[j, self.classes[i]] for j, i in enumerate(idx)])


def targets_from(target: object, n: int, logits: torch.Tensor | None = None) -> Targets:
    """Parse ``target`` for ``n`` images; ``None`` needs ``logits`` (top-1 of each row).

    Raises:
        TypeError: an entry that is neither an integer nor a callable.
        ValueError: a sequence whose length is not ``n``.
    """
    if target is None:
        if logits is None:
            raise ValueError("class_idx=None needs the logits (each image's top-1 class)")
        return Targets(logits.detach().argmax(dim=1).tolist(), (None,) * n)
    if callable(target) and not isinstance(target, (torch.Tensor, np.ndarray)):
        return Targets([None] * n, (None,) * n, target)
    if isinstance(target, (torch.Tensor, np.ndarray)):
        target = target.tolist()  # 0-d: a number; 1-D: a list, one per image
    items = list(target) if _is_many(target) else [target] * n
    if _is_many(target) and len(items) != n:
        raise ValueError(f"class_idx has {len(items)} entries but x holds {n} images: "
                         f"give None, one integer, or {n} integers (or callables)")
    for c in items:
        if not (_is_index(c) or callable(c)):
            raise TypeError(f"class_idx must be None, an integer, {n} integers or callables, "
                            f"or a callable on the logits, got {target!r}")
    return Targets([int(c) if _is_index(c) else None for c in items],
                   tuple(None if _is_index(c) else c for c in items))


def resolve_targets(model: nn.Module, x: torch.Tensor, target: object) -> Targets:
    """:func:`targets_from`, with one forward pass without gradients when ``target`` is None."""
    if target is not None:
        return targets_from(target, x.shape[0])
    with torch.no_grad():
        return targets_from(None, x.shape[0], logits_of(model, x))


def warn_if_training(model: nn.Module) -> None:
    """Warn when ``model`` is in training mode: explanations assume ``model.eval()``."""
    if model.training:
        warnings.warn(f"{type(model).__name__} is in training mode; call model.eval() first "
                      f"(batch norm and dropout would change the explanation)", stacklevel=3)


@contextmanager
def frozen(model: nn.Module, grad: bool = True) -> Iterator[None]:
    """Parameters frozen, gradients on (``grad``) or off; ``requires_grad`` restored in ``finally``.

    Gradients then flow to the input (or a hooked leaf) only: no parameter gradient is
    computed and nothing accumulates in ``.grad``. Warns when the model is in training mode.
    """
    warn_if_training(model)
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in params:
            p.requires_grad_(False)
        with torch.set_grad_enabled(grad):
            yield
    finally:
        for p in params:
            p.requires_grad_(True)
