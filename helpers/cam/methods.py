"""Class activation maps: CAM, Grad-CAM and its family, on one engine.

Every method here computes ``M = ReLU(sum_k w_k * A^k)`` from the activations ``A`` of
one layer. The engine (:func:`helpers.cam.engine.layer_pass`) runs the model once and
captures ``A`` (and, for gradient methods, ``d y^c / d A`` from one backward pass that
stops at the layer); :func:`run` hands them to the method's weight function
(:mod:`helpers.cam.weights`) and finishes the map. Each method is a ``def`` registered in
:mod:`helpers.registry`; ``METHODS`` is the CAM family's view of it. A method that is not
``sum_k w_k A^k`` (Eigen-CAM, Ablation-CAM) is one function in its own file.

All are pure functions of tensors: nothing is left on the model (no hooks, no
``requires_grad`` change, no ``.grad``), also when they raise. They return an
:class:`helpers.explanation.Explanation`; :mod:`helpers.draw.viz` draws it.

Introduced in notebooks/09_2_1_cam (``class_weight_cam``) and
notebooks/09_2_2_grad_cam (``grad_cam``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..contract import targets_from
from ..explanation import CamResult, Explanation, upsampled
from ..registry import FamilyView, register as register_method
from . import weights as cw
from .engine import LayerPass, Reshape, layer_pass
from .weights import WeightFunction

__all__ = ["METHODS", "CamResult", "Method", "class_weight_cam", "finish", "grad_cam",
           "grad_cam_pp", "hires_cam", "layer_cam", "register", "run", "score_cam", "xgrad_cam"]

Method = Callable[..., Explanation]
METHODS = FamilyView("cam")
"""name -> method ``(model, layer, x, class_idx=None, *, reshape=None) -> Explanation``."""


def finish(raw: torch.Tensor, p: LayerPass, method: str, batched: bool,
           **extras: torch.Tensor) -> Explanation:
    """Pack a layer map: ``maps = upsampled(ReLU(raw))`` at the input's size, and the probabilities.

    Shapes:
        raw: ``(N, h, w)``; extras: leading ``N``.
    """
    maps = upsampled(raw.float().clamp(min=0), tuple(p.x.shape[-2:]))  # (N, H, W)
    probs = p.logits.float().softmax(dim=1)  # (N, classes)
    return Explanation(maps, raw, list(p.classes), method, {**extras, "probs": probs},
                       single=not batched)


def weighted_sum(acts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_k w_k A^k`` per image; ``weights`` per map ``(N, C)`` or per activation ``(N, C, h, w)``.

    Shapes:
        acts: ``(N, C, h, w)``; returns ``(N, h, w)``.
    """
    if weights.ndim == 2:  # (N, C): per-image einsum, as the single-image path always did
        return torch.stack([torch.einsum("k,khw->hw", w, a) for w, a in zip(weights, acts)])
    return (weights * acts).sum(dim=1)  # (N, h, w), element-wise


def run(weights: WeightFunction, model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
        class_idx: object = None, *, gradients: bool = True, reshape: Reshape | None = None,
        method: str | None = None, **options: object) -> Explanation:
    """A CAM from a weight function: :func:`layer_pass`, then ``weights(pass, **options)``.

    Shapes:
        weights returns ``(N, C)`` (a weight per map) or ``(N, C, h, w)`` (per activation).
    """
    p, batched = layer_pass(model, layer, x, class_idx, gradients=gradients, reshape=reshape)
    w = weights(p, **options).detach()
    name = method or getattr(weights, "__name__", "cam").removesuffix("_weights")
    return finish(weighted_sum(p.acts, w), p, name, batched, weights=w)


def _finish(acts: torch.Tensor, weights: torch.Tensor, classes: list[int],
            logits: torch.Tensor, size: tuple[int, int], batched: bool) -> Explanation:
    """The former packing step, kept for the grader: ``sum_k w_k A^k``, ReLU, upsampling."""
    n = len(acts)
    p = LayerPass(None, torch.empty(n, 3, *size), acts, None, logits,  # type: ignore[arg-type]
                  targets_from(list(classes), n), ("", None))  # type: ignore[arg-type]
    return finish(weighted_sum(acts, weights), p, "cam", batched, weights=weights)


def register(name: str, weights: WeightFunction, *, gradients: bool = True,
             label: str | None = None) -> Method:
    """Make a weight function a CAM method with ``grad_cam``'s signature, in the registry.

    ``weights(p: LayerPass, **options)`` returns ``(N, C)`` or ``(N, C, h, w)``;
    ``gradients=False`` skips the backward pass (``p.grads`` is then ``None``).
    """
    def method(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
               class_idx: object = None, *, reshape: Reshape | None = None,
               **options: object) -> Explanation:
        return run(weights, model, layer, x, class_idx, gradients=gradients, reshape=reshape,
                   method=name, **options)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = weights.__doc__
    return register_method(name, family="cam", label=label)(method)


def class_weight_cam(model: nn.Module, layer: nn.Module | str, fc_weight: torch.Tensor,
                     x: torch.Tensor, class_idx: object = None) -> Explanation:
    """CAM (Zhou et al. 2016): weight the last feature maps with the class's fc weights.

    Not in the registry: its extra argument ``fc_weight`` does not fit the CAM family's
    signature (the explorer offers it as ``"cam"`` when a model has a GAP + linear head).

    Formula:
        ``M_c(i, j) = sum_k W[c, k] * A^k(i, j)``, then ReLU, upsampling and min-max,
        where ``A`` is the output of ``layer`` (the map that global average pooling
        reads) and ``W`` the weight of the one linear layer after the pooling.

    Args:
        model: a classifier in eval mode that returns logits ``(N, classes)``.
        layer: the module (or its name) whose output feeds global average pooling.
        fc_weight: the final linear layer's weight.
        x: one preprocessed image, or a batch.
        class_idx: the class to explain: ``None`` (top-1), an int, or one per image.

    Shapes:
        x: ``(N, 3, H, W)``; acts: ``(N, C, h, w)``; fc_weight: ``(classes, C)``;
        returns maps ``(N, H, W)``, raws ``(N, h, w)`` (see :class:`Explanation`).

    Raises:
        TypeError / ValueError: bad ``x``, ``layer`` not in ``model``, ``fc_weight``
            not matching the layer's channels, a class list of the wrong length, a
            callable target (CAM reads one row of ``W``).
        IndexError: ``class_idx`` outside ``[0, classes)``.
    """
    if not isinstance(fc_weight, torch.Tensor) or fc_weight.ndim != 2:
        raise ValueError("fc_weight must be the final linear weight, a 2-D tensor (classes, C)")

    def class_weights(p: LayerPass) -> torch.Tensor:
        if fc_weight.shape[1] != p.acts.shape[1]:
            raise ValueError(f"fc_weight has {fc_weight.shape[1]} input channels but the layer "
                             f"outputs {p.acts.shape[1]}: hook the layer that feeds the pooling")
        if None in p.classes:
            raise TypeError("CAM needs a class index per image, not a callable target")
        return fc_weight[p.classes].detach().to(p.acts)  # (N, C)

    return run(class_weights, model, layer, x, class_idx, gradients=False, method="cam")


@register_method("grad_cam", family="cam", label="Grad-CAM")
def grad_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor, class_idx: object = None,
             *, reshape: Reshape | None = None) -> Explanation:
    """Grad-CAM (Selvaraju et al. 2017): weight the feature maps by their mean gradients.

    Formula:
        ``alpha_k = 1/(h*w) * sum_ij d y^c / d A^k(i, j)``;
        ``M_c = ReLU(sum_k alpha_k * A^k)``, then upsampling and min-max,
        where ``y^c`` is the target score (the class logit) and ``A`` the output of ``layer``.

    One forward and one backward pass, and the backward pass only runs from the
    score down to ``layer`` (see :func:`layer_pass`).

    Args:
        model: a classifier in eval mode that returns logits ``(N, classes)``.
        layer: the target module (or its name); any layer with a ``(N, C, h, w)`` output.
        x: one preprocessed image, or a batch.
        class_idx: a target of :mod:`helpers.contract`: ``None`` (top-1), an int, one
            per image, or a callable on the logits.
        reshape: turns a non-map output (``(N, tokens, C)``) into ``(N, C, h, w)``.

    Shapes:
        x: ``(N, 3, H, W)``; acts, grads: ``(N, C, h, w)``; returns maps ``(N, H, W)``,
        raws ``(N, h, w)``, extras ``weights (N, C)``.

    Raises:
        TypeError / ValueError: bad ``x``, ``layer`` not in ``model``, a non-map layer
            without ``reshape``, a class list of the wrong length.
        IndexError: ``class_idx`` outside ``[0, classes)``.
    """
    return run(cw.grad_cam_weights, model, layer, x, class_idx, reshape=reshape)


@register_method("grad_cam_pp", family="cam", label="Grad-CAM++")
def grad_cam_pp(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                class_idx: object = None, *, reshape: Reshape | None = None,
                eps: float = 1e-6) -> Explanation:
    """Grad-CAM++ (Chattopadhyay et al. 2018); weights: :func:`weights.grad_cam_pp_weights`.

    Args and Shapes: as :func:`grad_cam`; ``eps`` guards the ``alpha`` denominator.
    """
    return run(cw.grad_cam_pp_weights, model, layer, x, class_idx, reshape=reshape, eps=eps)


@register_method("xgrad_cam", family="cam", label="XGrad-CAM")
def xgrad_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              class_idx: object = None, *, reshape: Reshape | None = None) -> Explanation:
    """XGrad-CAM (Fu et al. 2020); weights: :func:`weights.xgrad_cam_weights`.

    Args and Shapes: as :func:`grad_cam`.
    """
    return run(cw.xgrad_cam_weights, model, layer, x, class_idx, reshape=reshape)


@register_method("hires_cam", family="cam", label="HiRes-CAM")
def hires_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              class_idx: object = None, *, reshape: Reshape | None = None) -> Explanation:
    """HiRes-CAM (Draelos & Carin 2020); weights: :func:`weights.hires_cam_weights`.

    Args and Shapes: as :func:`grad_cam`; extras ``weights (N, C, h, w)``.
    """
    return run(cw.hires_cam_weights, model, layer, x, class_idx, reshape=reshape)


@register_method("layer_cam", family="cam", label="Layer-CAM")
def layer_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              class_idx: object = None, *, reshape: Reshape | None = None) -> Explanation:
    """Layer-CAM (Jiang et al. 2021); weights: :func:`weights.layer_cam_weights`.

    Args and Shapes: as :func:`grad_cam`; extras ``weights (N, C, h, w)``.
    """
    return run(cw.layer_cam_weights, model, layer, x, class_idx, reshape=reshape)


@register_method("score_cam", family="cam", label="Score-CAM")
def score_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              class_idx: object = None, *, reshape: Reshape | None = None,
              max_channels: int | None = cw.SCORE_CAM_CHANNELS,
              batch_size: int = cw.SCORE_CAM_BATCH) -> Explanation:
    """Score-CAM (Wang et al. 2020); weights: :func:`weights.score_cam_weights` (no gradients).

    Args and Shapes: as :func:`grad_cam`; ``max_channels`` and ``batch_size`` as there.
    """
    return run(cw.score_cam_weights, model, layer, x, class_idx, gradients=False,
               reshape=reshape, max_channels=max_channels, batch_size=batch_size)
