"""Lucid's redirected ReLU gradient, for feature visualization's first steps.

A channel that is zero after its ReLU on the grey start image has no gradient at
all, so gradient ascent never starts. For the first ``REDIRECT_STEPS`` steps
:func:`helpers.channels.fv.visualize` swaps every ``nn.ReLU`` / ``nn.ReLU6`` output for
:class:`_RedirectedReLU`'s, whose backward pass lets an upward push through where the
true gradient is all zero (Lucid's ``relu_gradient_override``). The forward values
are unchanged.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

REDIRECT_STEPS = 16


class _RedirectedReLU(torch.autograd.Function):
    """ReLU (or ReLU6) whose backward lets an upward push through where the true gradient is all zero."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.upper = upper
        return x.clamp(0, upper)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        zero = grad.new_zeros(())  # broadcast: no (N, C, h, w) zeros allocated
        above = x > ctx.upper
        relu_grad = torch.where((x < 0) | above, zero, grad)
        # grad is d(-objective)/d(output): negative values push the input up.
        redirected = torch.where(((x < 0) & (grad > 0)) | above, zero, grad)
        passes = (relu_grad != 0).flatten(1).any(dim=1)  # (N,)
        return torch.where(passes.view(-1, *[1] * (grad.ndim - 1)), relu_grad, redirected), None


@contextmanager
def redirected_relus(model: nn.Module) -> Iterator[None]:
    """Swap the output of every ``nn.ReLU`` / ``nn.ReLU6`` for :class:`_RedirectedReLU`'s.

    In-place ReLUs are made out-of-place while the swap lasts (their input is then
    still there for the forward hook; no copy), and restored in ``finally``.
    """
    handles, inplace = [], {}

    def swap(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        upper = 6.0 if isinstance(module, nn.ReLU6) else float("inf")
        return _RedirectedReLU.apply(args[0], upper)

    try:
        for m in model.modules():
            if isinstance(m, (nn.ReLU, nn.ReLU6)):
                inplace[m], m.inplace = m.inplace, False
                handles.append(m.register_forward_hook(swap))
        yield
    finally:
        for h in handles:
            h.remove()
        for m, value in inplace.items():
            m.inplace = value
