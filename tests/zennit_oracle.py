"""zennit set up as the oracle of helpers.attribution.lrp (tests/test_lrp.py, benchmarks).

Our rule names map to zennit composites (the differences are listed in tests/test_lrp.py):
``"epsilon"``: ``Epsilon`` on convolutions and linear layers; ``"zplus"``: ``EpsilonPlus``;
``"alpha2beta1"``: ``EpsilonAlpha2Beta1``; ``"alpha1beta0"``: ``AlphaBeta(1, 0)`` on
convolutions, ``Epsilon`` on linear layers. zennit has no canonizer for EfficientNet-Lite's
residual blocks: :func:`lite0_canonizers` adds one.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from helpers.attribution import Attribution, lrp
from helpers.models import lite0
from peers import require

zennit = require("zennit")
from zennit.attribution import Gradient  # noqa: E402
from zennit.canonizers import AttributeCanonizer, NamedMergeBatchNorm  # noqa: E402
from zennit.composites import (EpsilonAlpha2Beta1, EpsilonPlus, LayerMapComposite,  # noqa: E402
                               layer_map_base)
from zennit.layer import Sum  # noqa: E402
from zennit.rules import AlphaBeta, Epsilon  # noqa: E402
from zennit.types import Convolution  # noqa: E402

RULES = {"epsilon": {}, "zplus": {}, "alpha2beta1": dict(alpha=2.0, beta=1.0),
         "alpha1beta0": dict(alpha=1.0, beta=0.0)}
"""Our rule names and the keyword arguments of :func:`lrp_named`."""


def composite(name: str, extra: list, canonizers: list):
    """zennit's composite for our rule ``name``; ``extra`` is prepended to its layer map."""
    if name == "zplus":
        return EpsilonPlus(layer_map=extra, canonizers=canonizers)
    if name == "alpha2beta1":
        return EpsilonAlpha2Beta1(layer_map=extra, canonizers=canonizers)
    conv = Epsilon() if name == "epsilon" else AlphaBeta(alpha=1.0, beta=0.0)
    return LayerMapComposite(extra + layer_map_base() + [(Convolution, conv),
                                                         (nn.Linear, Epsilon())], canonizers)


def lrp_named(model: nn.Module, x: torch.Tensor, classes, name: str) -> Attribution:
    """:func:`helpers.attribution.lrp` with the rule ``name`` of :data:`RULES`."""
    rule = name if name in ("epsilon", "zplus") else "alphabeta"
    return lrp(model, x, classes, rule=rule, **RULES[name])


def zennit_relevance(model: nn.Module, x: torch.Tensor, classes, name: str, extra=(),
                     canonizers=(), zero_bn_eps: bool = False, on_copy: bool = True
                     ) -> torch.Tensor:
    """zennit's input relevance for ``classes``, starting from the logit.

    ``zero_bn_eps``: after zennit merged the BatchNorms, set their ``eps`` to 0, so that
    the merged BatchNorm is the identity (zennit keeps ``eps``: ``x / sqrt(1 + eps)``).
    ``on_copy=False`` lets zennit work on ``model`` itself (its canonizers write the
    merged weights into the model and restore them on exit): for VGG16, whose copy is slow.

    Shapes:
        x: ``(N, 3, H, W)``; returns ``(N, 3, H, W)``.
    """
    if zero_bn_eps and not on_copy:
        raise ValueError("zero_bn_eps changes the model: use it on a copy")
    twin = copy.deepcopy(model) if on_copy else model
    targets = torch.as_tensor(classes).view(-1, 1)
    with Gradient(twin, composite(name, list(extra), list(canonizers))) as attributor:
        if zero_bn_eps:
            for m in twin.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eps = 0.0
        _, rel = attributor(x, lambda out: torch.zeros_like(out).scatter(1, targets, 1.0) * out)
    return rel


def lite0_canonizers(model: nn.Module) -> list:
    """BatchNorm pairs named by hand from the architecture, and the residual sums."""
    pairs = [(["conv_stem"], "bn1"), (["conv_head"], "bn2")]
    for n, m in model.named_modules():
        if isinstance(m, lite0.DepthwiseSeparableConv):
            pairs += [([f"{n}.conv_dw"], f"{n}.bn1"), ([f"{n}.conv_pw"], f"{n}.bn2")]
        elif isinstance(m, lite0.InvertedResidual):
            pairs += [([f"{n}.conv_pw"], f"{n}.bn1"), ([f"{n}.conv_dw"], f"{n}.bn2"),
                      ([f"{n}.conv_pwl"], f"{n}.bn3")]

    def residual(name: str, module: nn.Module):
        if not getattr(module, "has_skip", False):
            return None
        body = type(module).forward

        def forward(x: torch.Tensor) -> torch.Tensor:
            module.has_skip = False
            try:
                y = body(module, x)
            finally:
                module.has_skip = True
            return module.canonizer_sum(torch.stack([y, x], dim=-1))
        return {"forward": forward, "canonizer_sum": Sum()}

    return [NamedMergeBatchNorm(pairs), AttributeCanonizer(residual)]
