"""Layer-wise Relevance Propagation (Bach et al. 2015) with the ε, z⁺ and αβ rules.

:func:`lrp` explains a class score by sending it back through a **copy** of the
model (the caller's model is never changed) on which:

1. every BatchNorm is folded into the convolution (or linear layer) that feeds it,
   found by following the tensors of one probe forward pass: ``w' = w * g / sqrt(v + e)``,
   ``b' = (b - m) * g / sqrt(v + e) + beta`` (a BatchNorm that carries its activation,
   like EfficientNet-Lite's ``BatchNormAct2d``, keeps the activation);
2. every layer is swapped for its rule (:mod:`helpers.attribution.lrp_rules`):
   convolutions get ``rule``, fully connected layers ε (as zennit's composites do),
   average pooling and residual adds (blocks with ``has_skip``, timm's layout) the
   proportional sum rule, ReLU / ReLU6 / input normalisation pass relevance on,
   max pooling, dropout and reshapes keep their gradient;
3. the autograd graph of the forward pass is checked: an operation written as a
   function call that LRP would cross as a plain gradient (``F.relu``, ``x + y``,
   ``x.mean()``) is refused with its name, instead of a silently wrong map; and the
   copy's logits for the first image must equal the model's (a fold is exact).

Introduced for notebook 9.4's method menu (issue 19).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..contract import check_x, is_single, logits_of, targets_from, warn_if_training
from ..registry import register
from .base import Attribution, check_reduce, finish
from .lrp_rules import STABILIZER, PassLayer, RuleLayer, SkipSum

RULES = ("epsilon", "zplus", "alphabeta")
"""What :func:`lrp` applies to convolutions; fully connected layers always get ε."""
_LINEAR = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PASS = (nn.ReLU, nn.ReLU6)
_SUM = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
        nn.AdaptiveAvgPool3d)
_GRADIENT = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d,
             nn.modules.dropout._DropoutNd, nn.Identity, nn.Flatten)
_NODES = ("_RelevanceBackward", "_PassBackward", "_SumBackward", "MaxPool", "AdaptiveMaxPool",
          "ViewBackward", "ReshapeAliasBackward", "UnsafeViewBackward", "CloneBackward",
          "torch::autograd::AccumulateGrad")


def _is_normalize(module: nn.Module) -> bool:
    """An input normalisation layer: ``mean`` and ``std`` tensors and no children (toy nets)."""
    return (isinstance(getattr(module, "mean", None), torch.Tensor)
            and isinstance(getattr(module, "std", None), torch.Tensor) and not module._modules)


def fold_batchnorms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Fold every BatchNorm of ``model`` (changed in place: pass a copy) into its producer.

    One forward pass of ``x`` with forward hooks (removed in ``finally``) finds
    which convolution's output each BatchNorm reads.

    Returns:
        the output of ``model(x)`` before folding, to check the folded model against.

    Raises:
        ValueError: a BatchNorm that does not read a convolution's or linear layer's output.

    Shapes:
        x: ``(1, 3, H, W)`` is enough.
    """
    made: dict[int, tuple[nn.Module, torch.Tensor]] = {}
    read: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = []
    out = None
    try:
        for name, m in model.named_modules():
            if isinstance(m, _LINEAR):
                handles.append(m.register_forward_hook(
                    lambda mod, _, out: made.__setitem__(id(out), (mod, out))))
            elif isinstance(m, _BATCHNORM):
                handles.append(m.register_forward_hook(
                    lambda mod, inp, _, name=name: read.append((name, mod, inp[0]))))
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    for name, bn, inp in {id(r[1]): r for r in read}.values():  # a BatchNorm used twice: once
        producer = made.get(id(inp), (None, None))[0]
        if producer is None or not bn.track_running_stats:
            raise ValueError(f"cannot fold BatchNorm {name!r}: it does not read the output of a "
                             f"convolution or linear layer (or has no running statistics)")
        scale = (bn.running_var + bn.eps).rsqrt()  # (C,)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        w = producer.weight.detach()
        bias = torch.zeros_like(scale) if producer.bias is None else producer.bias.detach()
        producer.weight = nn.Parameter(w * scale.view(-1, *[1] * (w.ndim - 1)), False)
        producer.bias = nn.Parameter(bias * scale + shift, False)
        bn.folded = True
    return out


def _convert(module: nn.Module, name: str, rule: str, eps: float, alpha: float,
             beta: float) -> nn.Module:
    """``module`` with its layers swapped for their rules, recursively (see the module doc)."""
    if getattr(module, "has_skip", False):
        module.has_skip = False
        return SkipSum(_convert(module, name, rule, eps, alpha, beta))
    if isinstance(module, _BATCHNORM):
        if not getattr(module, "folded", False):
            raise ValueError(f"BatchNorm {name!r} was not folded")
        rest = [_convert(m, f"{name}.{n}", rule, eps, alpha, beta)
                for n, m in module.named_children()]
        return nn.Sequential(*rest)  # BatchNormAct2d keeps its activation
    if isinstance(module, nn.Linear):
        return RuleLayer(module, "epsilon", eps=eps)
    if isinstance(module, _LINEAR):
        return RuleLayer(module, rule, eps=eps, alpha=alpha, beta=beta)
    if isinstance(module, _SUM):
        return RuleLayer(module, "sum")
    if isinstance(module, _PASS) or _is_normalize(module):
        return PassLayer(module)
    if isinstance(module, _GRADIENT):
        return module
    if not module._modules:
        raise ValueError(f"LRP has no rule for layer {name or 'model'!r} "
                         f"({type(module).__name__})")
    for child_name, child in list(module._modules.items()):
        if child is not None:
            full = f"{name}.{child_name}" if name else child_name
            module._modules[child_name] = _convert(child, full, rule, eps, alpha, beta)
    return module


def lrp_model(model: nn.Module, x: torch.Tensor, rule: str = "epsilon", *,
              epsilon: float = STABILIZER, alpha: float = 1.0, beta: float = 0.0) -> nn.Module:
    """A copy of ``model`` whose backward pass is LRP: BatchNorm folded, layers swapped.

    The copy has its own modules but shares the parameter and buffer tensors,
    which nothing writes to: a folded layer gets new tensors.

    Shapes:
        x: a probe batch ``(M, 3, H, W)`` (its first image is run once to pair BatchNorms).
    """
    shared = {id(t): t for t in (*model.parameters(), *model.buffers())}
    twin = copy.deepcopy(model, shared).eval()  # new modules, the same (never written) tensors
    twin.unfolded_output = fold_batchnorms(twin, x[:1].detach())
    return _convert(twin, "", rule, epsilon, alpha, beta)


def _refuse_plain_ops(logits: torch.Tensor) -> None:
    seen, stack = set(), [logits.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if not node.name().startswith(_NODES):
            raise ValueError(f"LRP would cross {node.name()} as a plain gradient: the model "
                             f"calls an operation as a function (e.g. F.relu, x + y, x.mean()) "
                             f"that has no LRP rule here; use modules")
        stack.extend(child for child, _ in node.next_functions)


def _check_same_function(folded: torch.Tensor, unfolded: torch.Tensor) -> None:
    """Folding and swapping must not change the output (it would, e.g., if a convolution's
    output fed its BatchNorm and another layer too)."""
    if not torch.allclose(folded, unfolded, rtol=1e-3, atol=1e-3 * float(unfolded.abs().max())):
        raise RuntimeError(f"the LRP copy computes other logits than the model (largest "
                           f"difference {float((folded - unfolded).abs().max()):.3g}): a "
                           f"BatchNorm could not be folded exactly")


@register("lrp", family="attribution", label="LRP")
def lrp(model: nn.Module, x: torch.Tensor, class_idx: object = None, *, rule: str = "epsilon",
        epsilon: float = STABILIZER, alpha: float = 2.0, beta: float = 1.0,
        reduce: str = "positive") -> Attribution:
    """Layer-wise Relevance Propagation: the class logit, shared out layer by layer to the pixels.

    Formula:
        start with ``R = y^c`` at the explained logit, 0 elsewhere; then per layer
        (see :mod:`helpers.attribution.lrp_rules`) ``R_in = x * J^T (R / s(z))`` for
        ε, and the αβ rule (z⁺ = α 1 β 0) for convolutions when ``rule`` says so.
        Conservation: ``sum(raw) ≈ y^c`` when no bias and no ε absorb relevance;
        ``info`` holds both numbers per image.

    Zennit equivalents (the tests' oracle): ``"epsilon"`` is ``Epsilon`` on every
    layer, ``"zplus"`` is ``EpsilonPlus``, ``"alphabeta"`` with (2, 1) is
    ``EpsilonAlpha2Beta1``; no special first-layer rule (zennit's ``...Flat``
    composites use ``Flat`` there).

    Args:
        model: a classifier in eval mode built from modules (see :func:`lrp_model`).
        x: preprocessed images.
        class_idx: ``None`` (top-1 per image), an int, or N ints.
        rule: ``"epsilon"``, ``"zplus"`` or ``"alphabeta"`` for the convolutions.
        epsilon: the ε of the ε rule (on fully connected layers always, on convolutions
            for ``"epsilon"``).
        alpha, beta: the αβ rule's weights, ``alpha - beta = 1``, both >= 0.
        reduce: one of :data:`~helpers.attribution.base.REDUCTIONS`.

    Shapes:
        x: ``(N, 3, H, W)``; raw relevance ``(N, 3, H, W)``; see :class:`Attribution`.

    Raises:
        ValueError: an unknown rule, bad α/β, or a layer without an LRP rule.
    """
    check_x(x)
    check_reduce(reduce)
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")
    if rule == "alphabeta" and (alpha < 0 or beta < 0 or abs(alpha - beta - 1) > 1e-9):
        raise ValueError(f"the αβ rule needs alpha - beta = 1 and both >= 0, got {alpha}, {beta}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    a, b = (alpha, beta) if rule == "alphabeta" else (1.0, 0.0)
    warn_if_training(model)
    twin = lrp_model(model, x, rule, epsilon=epsilon, alpha=a, beta=b)
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        logits = logits_of(twin, leaf)  # (N, classes)
        targets = targets_from(class_idx, x.shape[0], logits)
        _check_same_function(logits[:1].detach(), twin.unfolded_output)
        _refuse_plain_ops(logits)
        score = targets.scores(logits)  # (N,): y^c, or the target callable's value
        (raw,) = torch.autograd.grad(score, leaf, score.detach())  # R = y^c at the top; (N, 3, H, W)
    settings = {"rule": rule if rule != "alphabeta" else f"alpha{a:g}beta{b:g}"}
    return finish(raw, targets, "lrp", reduce, is_single(x, class_idx), settings,
                  relevance_sum=raw.sum(dim=(1, 2, 3)).tolist(), logit=score.detach().tolist())
