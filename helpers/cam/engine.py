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

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..contract import Targets, check_x, frozen, is_single, layer_of, logits_of, targets_from
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
        targets: what each image's score is (:class:`helpers.contract.Targets`).
        layer: the target layer's name and module (Ablation-CAM edits its output).

    Shapes:
        x: ``(N, 3, H, W)``; acts, grads: ``(N, C, h, w)``; logits: ``(N, classes)``;
        targets.classes: ``N`` ints (or None for a callable target).
    """

    model: nn.Module
    x: torch.Tensor
    acts: torch.Tensor
    grads: torch.Tensor | None
    logits: torch.Tensor
    targets: Targets
    layer: tuple[str, nn.Module]

    @property
    def classes(self) -> list[int | None]:
        """The explained class of each image (``None`` where a callable decides)."""
        return self.targets.classes



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
    during the call (:func:`helpers.contract.frozen`), so no parameter gradient is
    computed and nothing accumulates in ``.grad``. The target scores of all images
    (:class:`helpers.contract.Targets`) are summed before the one backward pass: the
    model must treat the images independently (eval mode). ``reshape`` is applied to
    the activations and to the gradients alike.

    Returns:
        the :class:`LayerPass`, and whether the request was for a batch (not
        :func:`helpers.contract.is_single`).

    Shapes:
        x: ``(N, 3, H, W)``; acts, grads: ``(N, C, h, w)`` (after ``reshape``).
    """
    check_x(x)
    name, module = layer_of(model, layer)
    n = x.shape[0]
    with frozen(model, grad=gradients), Capture({name: module}, leaf=gradients) as cap:
        logits = logits_of(model, x.detach())  # (N, classes)
        if name not in cap.acts:
            raise RuntimeError(f"layer {name!r} did not run during the forward pass")
        acts = _as_maps(name, cap.acts[name], n, reshape)  # (N, C, h, w)
        targets = targets_from(class_idx, n, logits)
        score = targets.scores(logits)  # (N,)
        grads = None
        if gradients:
            if not score.requires_grad:
                raise RuntimeError(f"the class score does not depend on layer {name!r}")
            (g,) = torch.autograd.grad(score.sum(), cap.leaves[name])
            grads = _as_maps(name, g, n, reshape)  # (N, C, h, w)
    p = LayerPass(model, x, acts.detach(), grads, logits.detach(), targets, (name, module))
    return p, not is_single(x, class_idx)
