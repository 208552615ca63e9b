"""Class activation maps: CAM, Grad-CAM and its family, on one engine.

Every method computes ``M = ReLU(sum_k w_k * A^k)`` from the activations ``A`` of
one layer. The engine (:func:`helpers.cam.engine.layer_pass`) runs the model once
and captures ``A`` (and, for gradient methods, ``d y^c / d A`` from one backward
pass that stops at the layer); :func:`run` hands them to the method's weight
function (:mod:`helpers.cam.weights`) and finishes the map.
``METHODS`` maps each method's name to a function with ``grad_cam``'s signature.
A new method is one weight function: decorated with ``@weight_function("name")``
in :mod:`helpers.cam.weights`, or passed to :func:`register` from elsewhere.

All are pure functions of tensors: nothing is left on the model (no hooks, no
``requires_grad`` change, no ``.grad``), also when they raise. They return
numbers only; :mod:`helpers.draw.viz` draws them.

Introduced in notebooks/09_2_1_cam (``class_weight_cam``) and
notebooks/09_2_2_grad_cam (``grad_cam``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import weights as cam_weights
from ..arrays import minmax
from .engine import LayerPass, Reshape, layer_pass
from .weights import WeightFunction


@dataclass
class CamResult:
    """What a CAM method computed, for one image or for a batch.

    One image (``x`` of shape ``(1, 3, H, W)`` and ``class_idx`` None or an int)
    gives the fields below without a batch dimension. A batch (``N > 1`` images,
    or ``class_idx`` given as a sequence, even of length 1) gives every field a
    leading ``N`` and ``class_idx`` a list; :meth:`per_image` splits it.

    Attributes:
        cam: the map in [0, 1] at the input's resolution (ReLU, bilinear
            upsampling, min-max); float32 numpy.
        raw: the weighted channel sum at the layer's resolution, before ReLU.
        weights: what multiplied the activations: ``W[c, :]`` for CAM, ``alpha`` for
            Grad-CAM, one weight per channel for the other channel methods (Score-CAM:
            0 for the channels beyond its cap); for the
            element-wise methods (``hires_cam``, ``layer_cam``) one weight per
            activation, ``(C, h, w)``.
        class_idx: the explained class.
        probs: softmax over the classes.

    Shapes:
        one image: cam ``(H, W)``; raw ``(h, w)``; weights ``(C,)`` or ``(C, h, w)``;
        probs ``(classes,)``. A batch: ``(N, H, W)``, ``(N, h, w)``, ``(N, C)`` or
        ``(N, C, h, w)``, ``(N, classes)``, and ``class_idx`` a list of ``N`` ints.
    """

    cam: np.ndarray
    raw: torch.Tensor
    weights: torch.Tensor
    class_idx: int | list[int]
    probs: torch.Tensor

    def per_image(self) -> list[CamResult]:
        """A batched result as one single-image result per image."""
        if not isinstance(self.class_idx, list):
            return [self]
        return [CamResult(*(getattr(self, f.name)[i] for f in fields(self)))
                for i in range(len(self.class_idx))]


def run(weights: WeightFunction, model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
        class_idx: object = None, *, gradients: bool = True, reshape: Reshape | None = None,
        **options: object) -> CamResult:
    """A CAM from a weight function: :func:`layer_pass`, then ``weights(pass, **options)``.

    Shapes:
        weights returns ``(N, C)`` (a weight per map) or ``(N, C, h, w)`` (per activation).
    """
    p, batched = layer_pass(model, layer, x, class_idx, gradients=gradients, reshape=reshape)
    w = weights(p, **options).detach()
    return _finish(p.acts, w, p.classes, p.logits, tuple(x.shape[-2:]), batched)


def _finish(acts: torch.Tensor, weights: torch.Tensor, classes: list[int],
            logits: torch.Tensor, size: tuple[int, int], batched: bool) -> CamResult:
    """Weighted sum, ReLU, bilinear upsampling to ``size = (H, W)``, min-max; pack."""
    if weights.ndim == 2:  # (N, C): per-image einsum, as the single-image path always did
        raw = torch.stack([torch.einsum("k,khw->hw", w, a) for w, a in zip(weights, acts)])
    else:  # (N, C, h, w), element-wise
        raw = (weights * acts).sum(dim=1)  # (N, h, w)
    pos = F.relu(raw.float())[:, None]  # (N, 1, h, w)
    up = F.interpolate(pos, size=size, mode="bilinear", align_corners=False)[:, 0]  # (N, H, W)
    cam = minmax(up, dims=(1, 2)).clamp_(0.0, 1.0).cpu().numpy().astype(np.float32)
    probs = logits.float().softmax(dim=1)  # (N, classes)
    if batched:
        return CamResult(cam, raw, weights, classes, probs)
    return CamResult(cam[0], raw[0], weights[0], classes[0], probs[0])


def class_weight_cam(
    model: nn.Module, layer: nn.Module | str, fc_weight: torch.Tensor, x: torch.Tensor,
    class_idx: int | Sequence[int] | None = None,
) -> CamResult:
    """CAM (Zhou et al. 2016): weight the last feature maps with the class's fc weights.

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
        x: ``(1, 3, H, W)`` or ``(N, 3, H, W)``; acts: ``(N, C, h, w)``; fc_weight:
        ``(classes, C)``; returns ``cam (H, W)``, ``raw (h, w)`` (batched: see CamResult).

    Raises:
        TypeError / ValueError: bad ``x``, ``layer`` not in ``model``, ``fc_weight``
            not matching the layer's channels, a class list of the wrong length.
        IndexError: ``class_idx`` outside ``[0, classes)``.
    """
    if not isinstance(fc_weight, torch.Tensor) or fc_weight.ndim != 2:
        raise ValueError("fc_weight must be the final linear weight, a 2-D tensor (classes, C)")

    def weights(p: LayerPass) -> torch.Tensor:
        if fc_weight.shape[1] != p.acts.shape[1]:
            raise ValueError(f"fc_weight has {fc_weight.shape[1]} input channels but the layer "
                             f"outputs {p.acts.shape[1]}: hook the layer that feeds the pooling")
        return fc_weight[p.classes].detach().to(p.acts)  # (N, C)

    return run(weights, model, layer, x, class_idx, gradients=False)


_METHOD_DOC = """
    Args:
        model: a classifier in eval mode that returns logits ``(N, classes)``.
        layer: the target module (or its name).
        x: one preprocessed image, or a batch.
        class_idx: the class to explain: ``None`` (top-1), an int, or one per image.
        reshape: turns a layer output that is not a map, e.g. a transformer's
            ``(N, tokens, C)``, into ``(N, C, h, w)``; applied to the gradients too.
        **options: passed to the weight function.

    Shapes:
        x: ``(1, 3, H, W)`` or ``(N, 3, H, W)``; returns a :class:`CamResult`.
"""


class _Registry(dict):
    def __missing__(self, name: str):
        raise KeyError(f"unknown CAM method {name!r}; known: {', '.join(self)}")


Method = Callable[..., CamResult]
METHODS: dict[str, Method] = _Registry()
"""name -> method ``(model, layer, x, class_idx=None, *, reshape=None) -> CamResult``."""


def register(name: str, weights: WeightFunction, *, gradients: bool = True) -> Method:
    """Make a weight function a CAM method with ``grad_cam``'s signature, in ``METHODS``.

    ``weights(p: LayerPass, **options)`` returns ``(N, C)`` or ``(N, C, h, w)``;
    ``gradients=False`` skips the backward pass (``p.grads`` is then ``None``).
    """
    if name in METHODS:
        raise ValueError(f"a CAM method named {name!r} is already registered")

    def method(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
               class_idx: int | Sequence[int] | None = None, *, reshape: Reshape | None = None,
               **options: object) -> CamResult:
        return run(weights, model, layer, x, class_idx, gradients=gradients, reshape=reshape,
                   **options)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (weights.__doc__ or "").rstrip() + "\n" + _METHOD_DOC
    METHODS[name] = method
    return method


def grad_cam(
    model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
    class_idx: int | Sequence[int] | None = None, *, reshape: Reshape | None = None,
) -> CamResult:
    """Grad-CAM (Selvaraju et al. 2017): weight the feature maps by their mean gradients.

    Formula:
        ``alpha_k = 1/(h*w) * sum_ij d y^c / d A^k(i, j)``;
        ``M_c = ReLU(sum_k alpha_k * A^k)``, then upsampling and min-max,
        where ``y^c`` is the class score (logit) and ``A`` the output of ``layer``.

    One forward and one backward pass, and the backward pass only runs from the
    score down to ``layer`` (see :func:`layer_pass`).

    Args:
        model: a classifier in eval mode that returns logits ``(N, classes)``.
        layer: the target module (or its name); any layer with a ``(N, C, h, w)`` output.
        x: one preprocessed image, or a batch.
        class_idx: the class to explain: ``None`` (top-1), an int, or one per image.
        reshape: turns a non-map output (``(N, tokens, C)``) into ``(N, C, h, w)``.

    Shapes:
        x: ``(1, 3, H, W)``; acts, grads: ``(1, C, h, w)``; returns ``cam (H, W)``,
        ``raw (h, w)``, ``weights (C,)``. A batch ``(N, 3, H, W)``: see CamResult.

    Raises:
        TypeError / ValueError: bad ``x``, ``layer`` not in ``model``, a non-map layer
            without ``reshape``, a class list of the wrong length.
        IndexError: ``class_idx`` outside ``[0, classes)``.
    """
    return run(cam_weights.grad_cam_weights, model, layer, x, class_idx, reshape=reshape)


METHODS["grad_cam"] = grad_cam
for _name, (_fn, _gradients) in cam_weights.WEIGHTS.items():
    register(_name, _fn, gradients=_gradients)
grad_cam_pp, xgrad_cam, hires_cam, layer_cam, score_cam = (
    METHODS[n] for n in ("grad_cam_pp", "xgrad_cam", "hires_cam", "layer_cam", "score_cam"))
