"""Guided ReLUs for Guided Backprop: swap the activation modules, and put them back.

Guided Backprop (Springenberg et al. 2015) changes one thing in the backward
pass: at every ReLU, only positive gradients pass, and only where the forward
input was positive. Here that backward lives in a custom ``autograd.Function``,
and :func:`guided_relus` swaps each ``nn.ReLU`` / ``nn.ReLU6`` module of a model
for a :class:`GuidedReLU` that calls it, restoring the original modules in
``finally``. No hook is registered, so in-place ReLUs (torchvision's VGG and
ResNet, timm's EfficientNet-Lite) are no problem.

A ReLU written as a function call (``F.relu(x)``, ``torch.relu``, ``x.relu()``,
``F.relu6``) cannot be swapped: :class:`FunctionalReLUCheck` raises a
``RuntimeError`` when such a call runs, rather than let a result come out only
partly guided. Other activations (SiLU, GELU, Hardswish, sigmoid) keep their
ordinary gradient, as in captum.

This module imports nothing of ours (it sits beside :mod:`helpers.hooks`).

Used by :mod:`helpers.attribution` (issue 11, for notebook 9.4).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

_FUNCTIONAL_RELUS = {F.relu, F.relu_, F.relu6, torch.relu, torch.relu_,
                     torch.Tensor.relu, torch.Tensor.relu_}


class _GuidedClamp(torch.autograd.Function):
    """``clamp(x, 0, upper)`` forward; guided backward ``max(g, 0) * [0 < x < upper]``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float | None) -> torch.Tensor:
        if upper is None:
            mask = x > 0
            out = x.clamp(min=0)
        else:
            mask = (x > 0) & (x < upper)
            out = x.clamp(0, upper)
        ctx.save_for_backward(mask)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (mask,) = ctx.saved_tensors
        return grad.clamp(min=0) * mask, None


class GuidedReLU(nn.Module):
    """A ReLU (``upper=None``) or ReLU6 (``upper=6``) whose backward pass is guided.

    Formula:
        forward ``y = clamp(x, 0, upper)``; backward
        ``dL/dx = max(dL/dy, 0) * [0 < x < upper]``.
        Always out of place, whatever the original's ``inplace`` was.
    """

    def __init__(self, upper: float | None = None) -> None:
        super().__init__()
        self.upper = upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedClamp.apply(x, self.upper)

    def extra_repr(self) -> str:
        return "" if self.upper is None else f"upper={self.upper}"


def _guided_for(module: nn.Module) -> GuidedReLU | None:
    if isinstance(module, nn.ReLU):
        return GuidedReLU()
    if isinstance(module, nn.ReLU6):
        return GuidedReLU(6.0)
    return None


@contextmanager
def guided_relus(model: nn.Module) -> Iterator[int]:
    """Swap every ``nn.ReLU`` / ``nn.ReLU6`` of ``model`` for a :class:`GuidedReLU`.

    Example::

        with guided_relus(model) as swapped:
            logits = model(x)  # forward as before, backward guided
        # the original modules are back, also after an exception

    Yields:
        the number of swapped module slots (a module used in two places counts twice).

    Raises:
        ValueError: the model has no ``nn.ReLU`` / ``nn.ReLU6`` module to swap.
    """
    swaps: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in list(model.modules()):
            for name, child in list(parent._modules.items()):
                guided = _guided_for(child) if child is not None else None
                if guided is not None:
                    guided.train(child.training)
                    swaps.append((parent, name, child))
                    parent._modules[name] = guided
        if not swaps:
            raise ValueError(f"{type(model).__name__} has no nn.ReLU or nn.ReLU6 module: "
                             f"Guided Backprop needs ReLUs it can swap (F.relu calls cannot be)")
        yield len(swaps)
    finally:
        for parent, name, child in reversed(swaps):
            parent._modules[name] = child


class FunctionalReLUCheck(TorchFunctionMode):
    """Raise ``RuntimeError`` when a functional ReLU runs (``F.relu``, ``torch.relu``, ...).

    Use it around the forward pass inside :func:`guided_relus`: such a call would
    keep the ordinary ReLU gradient, and the result would be only partly guided.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _FUNCTIONAL_RELUS:
            name = getattr(func, "__qualname__", None) or getattr(func, "__name__", str(func))
            raise RuntimeError(
                f"the model calls {name}() as a function; Guided Backprop only guides "
                f"nn.ReLU / nn.ReLU6 modules. Replace the call with an nn.ReLU module.")
        return func(*args, **(kwargs or {}))
