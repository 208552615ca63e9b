"""Class activation maps: CAM from class weights and Grad-CAM from gradients.

Both functions are pure functions of tensors: they run the model once, read the
target layer through :class:`helpers.hooks.Capture`, and leave nothing behind
on the model (no hooks, no ``requires_grad`` changes, no ``.grad``), also when
they raise. They return numbers only; :mod:`helpers.viz` draws them.

Introduced in notebooks/09_2_1_cam (``class_weight_cam``) and
notebooks/09_2_2_grad_cam (``grad_cam``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .hooks import Capture


@dataclass
class CamResult:
    """What a CAM method computed for one image.

    Attributes:
        cam: the map in [0, 1] at the input's resolution (ReLU, bilinear
            upsampling, min-max); float32 numpy.
        raw: the weighted channel sum at the layer's resolution, before ReLU.
        weights: the channel weights (``W[c, :]`` for CAM, ``alpha`` for Grad-CAM).
        class_idx: the explained class.
        probs: softmax over the classes.

    Shapes:
        cam: ``(H, W)``; raw: ``(h, w)``; weights: ``(C,)``; probs: ``(classes,)``.
    """

    cam: np.ndarray
    raw: torch.Tensor
    weights: torch.Tensor
    class_idx: int
    probs: torch.Tensor


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
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (1, 3, H, W), got {tuple(x.shape)}; "
                         f"use bundle.to_input(image) for one image")
    if not x.is_floating_point():
        raise TypeError(f"x must be a float tensor, got {x.dtype}")


def _check_logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != 1:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"the model must return logits (1, classes), got {shape}")
    return logits


def _pick_class(logits: torch.Tensor, class_idx: object) -> int:
    classes = logits.shape[1]
    if class_idx is None:
        return int(logits[0].argmax())
    if isinstance(class_idx, torch.Tensor) and class_idx.numel() == 1 \
            and not class_idx.is_floating_point():
        class_idx = int(class_idx)
    if isinstance(class_idx, (bool, np.bool_)) or not isinstance(class_idx, (int, np.integer)):
        raise TypeError(f"class_idx must be an integer or None, got {class_idx!r}")
    if not 0 <= class_idx < classes:
        raise IndexError(f"class_idx {class_idx} is out of range: the model has {classes} "
                         f"classes (0 to {classes - 1})")
    return int(class_idx)


def _check_acts(name: str, cap: Capture) -> torch.Tensor:
    if name not in cap.acts:
        raise RuntimeError(f"layer {name!r} did not run during the forward pass")
    acts = cap.acts[name]
    if acts.ndim != 4:
        raise ValueError(f"layer {name!r} outputs shape {tuple(acts.shape)}; a CAM needs a "
                         f"feature map (1, C, h, w): pick a convolutional layer")
    return acts


def _finish(raw: torch.Tensor, weights: torch.Tensor, class_idx: int, logits: torch.Tensor,
            size: tuple[int, int]) -> CamResult:
    """ReLU, bilinear upsampling to ``size = (H, W)``, min-max; pack the result."""
    pos = F.relu(raw.detach().float())[None, None]  # (1, 1, h, w)
    up = F.interpolate(pos, size=size, mode="bilinear", align_corners=False)[0, 0]  # (H, W)
    lo, hi = up.min(), up.max()
    cam = (up - lo) / (hi - lo) if hi - lo > 1e-12 * max(1.0, float(hi)) else torch.zeros_like(up)
    return CamResult(
        cam=cam.clamp_(0.0, 1.0).cpu().numpy().astype(np.float32),
        raw=raw.detach(), weights=weights.detach(), class_idx=class_idx,
        probs=logits.detach()[0].float().softmax(dim=0),
    )


def class_weight_cam(
    model: nn.Module, layer: nn.Module | str, fc_weight: torch.Tensor, x: torch.Tensor,
    class_idx: int | None = None,
) -> CamResult:
    """CAM (Zhou et al. 2016): weight the last feature maps with the class's fc weights.

    Formula:
        ``M_c(i, j) = sum_k W[c, k] * A^k(i, j)``, then ReLU, upsampling and min-max,
        where ``A`` is the output of ``layer`` (the map that global average pooling
        reads) and ``W`` the weight of the one linear layer after the pooling.

    Args:
        model: a classifier in eval mode that returns logits ``(1, classes)``.
        layer: the module (or its name) whose output feeds global average pooling.
        fc_weight: the final linear layer's weight.
        x: one preprocessed image.
        class_idx: the class to explain; ``None`` means the top-1 class.

    Shapes:
        x: ``(1, 3, H, W)``; acts: ``(1, C, h, w)``; fc_weight: ``(classes, C)``;
        returns ``cam (H, W)``, ``raw (h, w)``.

    Raises:
        TypeError / ValueError: bad ``x``, ``layer`` not in ``model``, ``fc_weight``
            not matching the layer's channels.
        IndexError: ``class_idx`` outside ``[0, classes)``.
    """
    _check_input(x)
    name, module = _layer_of(model, layer)
    if not isinstance(fc_weight, torch.Tensor) or fc_weight.ndim != 2:
        raise ValueError("fc_weight must be the final linear weight, a 2-D tensor (classes, C)")
    with torch.no_grad(), Capture({name: module}) as cap:
        logits = _check_logits(model(x))  # (1, classes)
    acts = _check_acts(name, cap)  # (1, C, h, w)
    if fc_weight.shape[1] != acts.shape[1]:
        raise ValueError(f"fc_weight has {fc_weight.shape[1]} input channels but layer {name!r} "
                         f"outputs {acts.shape[1]}: hook the layer that feeds the pooling")
    c = _pick_class(logits, class_idx)
    weights = fc_weight[c].detach().to(acts)  # (C,)
    raw = torch.einsum("k,khw->hw", weights, acts[0])  # (h, w)
    return _finish(raw, weights, c, logits, tuple(x.shape[-2:]))


class _LeafCapture(Capture):
    """A :class:`Capture` that makes the layer's output a fresh leaf of the autograd graph.

    The hook hands a clone of the leaf downstream, so the backward pass stops at
    the layer (nothing before it is recorded) and an in-place op after the layer
    (``ReLU(inplace=True)``, ``out += identity``) cannot alter the stored map.
    ``outputs[name]`` is the leaf, to pass to ``torch.autograd.grad``.
    """

    def _hook_for(self, name: str):
        def hook(module: nn.Module, inputs: object, output: object) -> torch.Tensor:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returned {type(output).__name__}, not a tensor")
            leaf = output.detach().requires_grad_(True)
            self.acts[name] = leaf.detach()
            self.outputs[name] = leaf
            return leaf.clone()  # (N, C, h, w), the graph from here on

        return hook


def grad_cam(
    model: nn.Module, layer: nn.Module | str, x: torch.Tensor, class_idx: int | None = None
) -> CamResult:
    """Grad-CAM (Selvaraju et al. 2017): weight the feature maps by their mean gradients.

    Formula:
        ``alpha_k = 1/(h*w) * sum_ij d y^c / d A^k(i, j)``;
        ``M_c = ReLU(sum_k alpha_k * A^k)``, then upsampling and min-max,
        where ``y^c`` is the class score (logit) and ``A`` the output of ``layer``.

    One forward and one backward pass, and the backward pass only runs from the
    score down to ``layer``: during the call the parameters are frozen
    (``requires_grad`` restored afterwards), so no parameter gradient is computed
    and nothing accumulates in ``.grad``.

    Args:
        model: a classifier in eval mode that returns logits ``(1, classes)``.
        layer: the target module (or its name); any layer with a ``(1, C, h, w)`` output.
        x: one preprocessed image.
        class_idx: the class to explain; ``None`` means the top-1 class.

    Shapes:
        x: ``(1, 3, H, W)``; acts, grads: ``(1, C, h, w)``; returns ``cam (H, W)``,
        ``raw (h, w)``, ``weights (C,)``.

    Raises:
        TypeError / ValueError: bad ``x``, ``layer`` not in ``model``.
        IndexError: ``class_idx`` outside ``[0, classes)``.
    """
    _check_input(x)
    name, module = _layer_of(model, layer)
    frozen = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in frozen:
            p.requires_grad_(False)
        with torch.enable_grad(), _LeafCapture({name: module}, grads=True) as cap:
            logits = _check_logits(model(x.detach()))  # (1, classes)
            acts = _check_acts(name, cap)  # (1, C, h, w)
            c = _pick_class(logits, class_idx)
            if not logits.requires_grad:
                raise RuntimeError(f"the class score does not depend on layer {name!r}")
            (grads,) = torch.autograd.grad(logits[0, c], cap.outputs[name])  # (1, C, h, w)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    weights = grads[0].mean(dim=(1, 2))  # (C,) alpha_k
    raw = torch.einsum("k,khw->hw", weights, acts[0])  # (h, w)
    return _finish(raw, weights, c, logits, tuple(x.shape[-2:]))
