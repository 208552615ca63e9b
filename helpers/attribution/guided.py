"""Guided ReLUs for Guided Backprop: swap the activation modules, and put them back.

Guided Backprop (Springenberg et al. 2015) changes one thing in the backward
pass: at every ReLU, only positive gradients pass, and only where the forward
input was positive. Here that backward lives in a custom ``autograd.Function``,
and :func:`guided_relus` swaps each ``nn.ReLU`` / ``nn.ReLU6`` module of a model
for a :class:`GuidedReLU` that calls it, restoring the original modules in
``finally``. No hook is registered, so in-place ReLUs (torchvision's VGG and
ResNet, the bundled EfficientNet-Lite) are no problem.

A ReLU written as a function call (``F.relu(x)``, ``torch.relu``, ``x.relu()``,
``F.relu6``) cannot be swapped; :func:`unguided_relus` finds such ReLUs in the
autograd graph, so that a caller can refuse a result that would come out only
partly guided. Other activations (SiLU, GELU, Hardswish, sigmoid) keep their
ordinary gradient, as in captum.

This module imports nothing of ours (it sits beside :mod:`helpers.hooks`).

Used by :mod:`helpers.attribution` (issue 11, for notebook 9.4).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class _GuidedClamp(torch.autograd.Function):
    """``clamp(x, 0, upper)`` forward; guided backward ``max(g, 0) * [0 < x < upper]``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float | None) -> torch.Tensor:
        out = x.clamp(min=0) if upper is None else x.clamp(0, upper)
        ctx.upper = upper
        ctx.save_for_backward(out)  # 0 < out < upper exactly where 0 < x < upper
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (out,) = ctx.saved_tensors
        positive = grad.clamp(min=0)
        if ctx.upper is None:
            return torch.ops.aten.threshold_backward(positive, out, 0), None
        return torch.ops.aten.hardtanh_backward(positive, out, 0.0, ctx.upper), None


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


def unguided_relus(output: torch.Tensor) -> list[str]:
    """The ReLU nodes in ``output``'s autograd graph: ReLUs that a gradient would cross unguided.

    Inside :func:`guided_relus` every ``nn.ReLU`` / ``nn.ReLU6`` module is guided,
    so a ``ReluBackward`` or ``HardtanhBackward`` node comes from a function call
    (``F.relu``, ``torch.relu``, ``x.relu()``, ``F.relu6``) or an ``nn.Hardtanh``.
    A ReLU written as ``x.clamp(min=0)`` is not recognised.

    Returns:
        the nodes' names, one per node (empty when every ReLU is guided).
    """
    found: list[str] = []
    seen: set = set()
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if node.name().startswith(("ReluBackward", "HardtanhBackward", "Relu6Backward")):
            found.append(node.name())
        stack.extend(child for child, _ in node.next_functions)
    return found
