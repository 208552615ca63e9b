"""The CAM engine: one forward pass, and one backward pass down to the target layer.

:func:`layer_pass` checks the arguments, runs the model once with the target
layer's output made an autograd leaf (:class:`helpers.hooks.Capture` with
``leaf=True``), and returns a :class:`LayerPass`: activations, gradients, logits
and the explained classes. :mod:`helpers.cam.weights` turns a pass into channel
weights, :mod:`helpers.cam` into a map. Nothing is left on the model (no hooks,
no ``requires_grad`` change, no ``.grad``), also when it raises.

Introduced in notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..hooks import Capture

Reshape = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LayerPass:
    """What the engine saw of one forward (and backward) pass through the target layer.

    Attributes:
        model: the classifier (eval mode).
        x: the input batch.
        acts: the layer's output as maps (after the caller's ``reshape``), detached.
        grads: ``d logits[n, classes[n]] / d acts[n]`` per image, or ``None`` for a
            method registered with ``gradients=False``.
        logits: the model's output, detached.
        classes: the explained class of each image.

    Shapes:
        x: ``(N, 3, H, W)``; acts, grads: ``(N, C, h, w)``; logits: ``(N, classes)``;
        classes: ``N`` ints.
    """

    model: nn.Module
    x: torch.Tensor
    acts: torch.Tensor
    grads: torch.Tensor | None
    logits: torch.Tensor
    classes: list[int]



def _layer_of(model: nn.Module, layer: nn.Module | str) -> tuple[str, nn.Module]:
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


def _check_input(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor (1, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[0] < 1 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (N, 3, H, W), (1, 3, H, W) for one image, got "
                         f"{tuple(x.shape)}; use bundle.to_input(image) for one image")
    if not x.is_floating_point():
        raise TypeError(f"x must be a float tensor, got {x.dtype}")


def _check_logits(logits: object, n: int) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != n:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"the model must return logits ({n}, classes), got {shape}")
    return logits


def _pick_classes(logits: torch.Tensor, class_idx: object) -> tuple[list[int], bool]:
    """The class of each image, and whether ``class_idx`` asked for a batched result."""
    n, classes = logits.shape
    if class_idx is None:
        return logits.argmax(dim=1).tolist(), n > 1
    if isinstance(class_idx, (torch.Tensor, np.ndarray)):
        class_idx = class_idx.tolist()  # 0-d: a number; 1-D: a list, one per image
    many = isinstance(class_idx, Sequence) and not isinstance(class_idx, str)
    picked = list(class_idx) if many else [class_idx] * n
    if many and len(picked) != n:
        raise ValueError(f"class_idx has {len(picked)} entries but x holds {n} images: "
                         f"give None, one integer, or {n} integers")
    for c in picked:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"class_idx must be an integer, {n} integers, or None, "
                            f"got {class_idx!r}")
        if not 0 <= c < classes:
            raise IndexError(f"class_idx {c} is out of range: the model has {classes} "
                             f"classes (0 to {classes - 1})")
    return [int(c) for c in picked], many or n > 1


def _as_maps(name: str, t: torch.Tensor, n: int, reshape: Reshape | None) -> torch.Tensor:
    out = reshape(t) if reshape is not None else t
    if not isinstance(out, torch.Tensor) or out.ndim != 4 or out.shape[0] != n:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        if reshape is not None:
            raise ValueError(f"reshape turned layer {name!r}'s output {tuple(t.shape)} into "
                             f"{shape}; it must return a feature map ({n}, C, h, w)")
        raise ValueError(f"layer {name!r} outputs shape {shape}; a CAM needs a feature map "
                         f"({n}, C, h, w): pick a convolutional layer, or pass reshape=, a "
                         f"function that turns this output into ({n}, C, h, w) (for a "
                         f"transformer's (N, tokens, C): drop the class token, reshape the "
                         f"rest to (N, h, w, C) and permute)")
    return out


def layer_pass(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
               class_idx: object = None, *, gradients: bool = True,
               reshape: Reshape | None = None) -> tuple[LayerPass, bool]:
    """The engine: one forward pass, and one backward pass down to ``layer`` if ``gradients``.

    The layer's output becomes an autograd leaf (:class:`helpers.hooks.Capture`
    with ``leaf=True``), so the backward pass stops there; the parameters are frozen
    during the call (``requires_grad`` restored in ``finally``), so no parameter
    gradient is computed and nothing accumulates in ``.grad``. The scores of all
    images are summed before the one backward pass: the model must treat the
    images independently (eval mode). ``reshape`` is applied to the activations
    and to the gradients alike.

    Returns:
        the :class:`LayerPass`, and whether the caller asked
        for a batched result.

    Shapes:
        x: ``(N, 3, H, W)``; acts, grads: ``(N, C, h, w)`` (after ``reshape``).
    """
    _check_input(x)
    name, module = _layer_of(model, layer)
    n = x.shape[0]
    frozen = [p for p in model.parameters() if p.requires_grad] if gradients else []
    try:
        for p in frozen:
            p.requires_grad_(False)
        with torch.set_grad_enabled(gradients), Capture({name: module}, leaf=gradients) as cap:
            logits = _check_logits(model(x.detach()), n)  # (N, classes)
            if name not in cap.acts:
                raise RuntimeError(f"layer {name!r} did not run during the forward pass")
            acts = _as_maps(name, cap.acts[name], n, reshape)  # (N, C, h, w)
            classes, batched = _pick_classes(logits, class_idx)
            grads = None
            if gradients:
                if not logits.requires_grad:
                    raise RuntimeError(f"the class score does not depend on layer {name!r}")
                score = logits[torch.arange(n), classes].sum()
                (g,) = torch.autograd.grad(score, cap.leaves[name])
                grads = _as_maps(name, g, n, reshape)  # (N, C, h, w)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return LayerPass(model, x, acts.detach(), grads, logits.detach(), classes), batched
