"""The LRP rules as layers: each runs its module forward and sends relevance backward.

Layer-wise Relevance Propagation (Bach et al. 2015) moves the class score from
the output back to the pixels, layer by layer, so that each layer's relevance
sums (nearly) to the layer above's. Here the relevance travels as the
"gradient" of autograd: each wrapper below is a custom ``autograd.Function``
whose forward is the module's own and whose backward takes the relevance ``R``
of the output and returns the relevance of the input. No hook is registered.

Rules (``z`` the output, ``s(z) = z + eps * sign(z)`` with ``sign(0) = +1``):

* ε: ``R_in = x * J^T (R / s(z))`` (``J`` the layer's weights; ``eps -> 0`` is LRP-0);
* αβ: with ``z+ = w+ x+ + b+ + w- x-`` and ``z- = w- x+ + b- + w+ x-``,
  ``R_in = α (x+ J+^T + x- J-^T)(R / s(z+)) - β (x+ J-^T + x- J+^T)(R / s(z-))``;
  z⁺ is α = 1, β = 0 (Montavon et al. 2017, allowing negative inputs);
* pass (ReLU, ReLU6, an input normalisation): ``R_in = R``;
* sum (average pooling, a residual add ``a + b``): ``R_a = a * R / s(a + b)``.

These are zennit's definitions (``Epsilon``, ``ZPlus``, ``AlphaBeta``, ``Pass``,
``Norm``), which the tests use as the oracle.

Used by :mod:`helpers.attribution.lrp` (issue 19).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

STABILIZER = 1e-6
"""The ``eps`` of every rule but ε itself (zennit's default ``stabilizer``)."""


def stabilize(z: torch.Tensor, eps: float) -> torch.Tensor:
    """``z + eps * sign(z)``, with ``sign(0) = +1``, so that ``R / s(z)`` is finite.

    Shapes:
        z: any; returns the same shape.
    """
    return torch.where(z >= 0, z + eps, z - eps)


def _apply(module: nn.Module, x: torch.Tensor, weight: torch.Tensor,
           bias: torch.Tensor | None) -> torch.Tensor:
    """``module(x)`` with ``weight`` and ``bias`` in place of its own (padding rules kept)."""
    params = {"weight": weight} if module.bias is None else {"weight": weight, "bias": bias}
    return functional_call(module, params, (x,))


def linear_relevance(module: nn.Module, x: torch.Tensor, r: torch.Tensor, rule: str,
                     eps: float, alpha: float, beta: float) -> torch.Tensor:
    """The relevance of a linear layer's input (a convolution or ``nn.Linear``).

    Shapes:
        x: the layer's input ``(N, C_in, ...)``; r: relevance of its output ``(N, C_out, ...)``;
        returns ``(N, C_in, ...)``.
    """
    w = module.weight.detach()
    b = None if module.bias is None else module.bias.detach()
    with torch.enable_grad():
        if rule == "epsilon":
            leaf = x.detach().requires_grad_(True)
            z = _apply(module, leaf, w, b)
            (g,) = torch.autograd.grad(z, leaf, r / stabilize(z.detach(), eps))
            return x * g
        xp = x.clamp(min=0).requires_grad_(True)
        xn = x.clamp(max=0).requires_grad_(True)
        wp, wn = w.clamp(min=0), w.clamp(max=0)
        bp, bn = (None, None) if b is None else (b.clamp(min=0), b.clamp(max=0))
        zero = None if b is None else torch.zeros_like(b)
        pos = _apply(module, xp, wp, bp) + _apply(module, xn, wn, zero)  # z+
        objective = alpha * (pos * (r / stabilize(pos.detach(), STABILIZER))).sum()
        if beta:
            neg = _apply(module, xp, wn, bn) + _apply(module, xn, wp, zero)  # z-
            objective = objective - beta * (neg * (r / stabilize(neg.detach(), STABILIZER))).sum()
        gp, gn = torch.autograd.grad(objective, (xp, xn))
        return xp.detach() * gp + xn.detach() * gn


class _Relevance(torch.autograd.Function):
    """Forward ``layer.inner(x)``; backward ``layer.relevance(x, R)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, layer: "RuleLayer") -> torch.Tensor:
        ctx.layer = layer
        ctx.save_for_backward(x)
        return layer.inner(x)

    @staticmethod
    def backward(ctx, r: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return ctx.layer.relevance(x, r), None


class RuleLayer(nn.Module):
    """A convolution / linear layer (``rule`` ε, z⁺ or αβ) or an average pool (``rule="sum"``).

    Shapes:
        x: the wrapped module's input; returns its output, unchanged.
    """

    def __init__(self, inner: nn.Module, rule: str, eps: float = STABILIZER,
                 alpha: float = 1.0, beta: float = 0.0) -> None:
        super().__init__()
        self.inner, self.rule, self.eps, self.alpha, self.beta = inner, rule, eps, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Relevance.apply(x, self)

    def relevance(self, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Relevance of the input ``x`` given the output's ``r`` (see the module docstring)."""
        if self.rule == "sum":
            with torch.enable_grad():
                leaf = x.detach().requires_grad_(True)
                z = self.inner(leaf)
                (g,) = torch.autograd.grad(z, leaf, r / stabilize(z.detach(), STABILIZER))
            return x * g
        return linear_relevance(self.inner, x, r, self.rule, self.eps, self.alpha, self.beta)

    def extra_repr(self) -> str:
        return f"rule={self.rule!r}"


class _Pass(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, inner: nn.Module) -> torch.Tensor:
        return inner(x)

    @staticmethod
    def backward(ctx, r: torch.Tensor) -> tuple[torch.Tensor, None]:
        return r, None


class PassLayer(nn.Module):
    """An element-wise layer (ReLU, ReLU6, input normalisation) that passes relevance unchanged.

    Shapes:
        x: the wrapped module's input; returns its output (``R_in = R``, the same shape).
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        if hasattr(inner, "inplace"):
            inner.inplace = False  # the input is another rule's output, saved for its backward
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Pass.apply(x, self.inner)


class _Sum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return a + b

    @staticmethod
    def backward(ctx, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors
        share = r / stabilize(a + b, STABILIZER)
        return a * share, b * share


class SkipSum(nn.Module):
    """A residual block ``block(x) + x`` whose add splits relevance in proportion to each term.

    ``block`` is a copy whose ``has_skip`` was switched off, so it returns its branch only.

    Shapes:
        x: ``(N, C, H, W)``; returns the same shape.
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Sum.apply(self.block(x), x)
