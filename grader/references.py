"""The reference answers of the autograded exercises (grader only, never shipped to students).

Each reference is written with torch and numpy alone, independently of
``helpers``: the self-study checks' stored answers are made from them
(:mod:`grader.public`), the hidden tests compare with them on fresh random
inputs (:mod:`grader.grading`), and the tests compare them with ``helpers``'
own implementations (an independent computation, not the code with itself).
This file is loaded afresh from disk for every graded exercise, so nothing a
submission changes in the kernel reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

# ------------------------------------------------------------ 9.1 layer outputs ---


def ref_showimg_normalize(channel: np.ndarray) -> np.ndarray:
    """ReLU, min-max to [0, 1] (a flat channel gives zeros), square. Shapes: (h, w) -> (h, w)."""
    a = np.maximum(np.asarray(channel, dtype=np.float64), 0.0)  # (h, w)
    lo, hi = a.min(), a.max()
    return np.zeros_like(a) if hi == lo else ((a - lo) / (hi - lo)) ** 2


def ref_first_layer_of_size(shapes: Sequence[tuple[str, tuple[int, ...]]], size: int) -> str | None:
    """Name of the first layer whose output is ``(N, C, size, size)``, or None."""
    for name, shape in shapes:
        if len(shape) == 4 and shape[2] == size and shape[3] == size:
            return name
    return None


def ref_count_dead_channels(acts: torch.Tensor) -> int:
    """Channels whose maximum over every image and position is <= 0. Shapes: (N, C, h, w) or (C, h, w)."""
    a = acts.reshape(-1, *acts.shape[-3:])  # (N, C, h, w)
    return int((a.clamp(min=0).amax(dim=(0, 2, 3)) == 0).sum())


def ref_top_channels(acts: torch.Tensor, k: int) -> list[int]:
    """The k channels with the largest mean after ReLU, largest first (stable). Shapes: (C, h, w)."""
    means = acts.clamp(min=0).flatten(1).mean(dim=1)  # (C,)
    return [int(i) for i in torch.sort(means, descending=True, stable=True).indices[:k]]


# ------------------------------------------------------------ 9.2 CAM, Grad-CAM ---


def ref_cam_from_weights(acts: torch.Tensor, fc_weight: torch.Tensor, class_idx: int) -> torch.Tensor:
    """``sum_k W[c, k] A^k`` (no ReLU). Shapes: acts (1, C, h, w), fc_weight (classes, C) -> (h, w)."""
    return torch.einsum("k,khw->hw", fc_weight[class_idx], acts[0])


def ref_region_drop(acts: torch.Tensor, fc_weight: torch.Tensor, mask: torch.Tensor,
                    class_idx: int) -> float:
    """The class's logit drop when the activations under ``mask`` are zeroed before the GAP.

    ``s_c = mean_ij M_c(i, j) + b_c``, so the drop is the CAM summed over the mask, over h * w.
    Shapes: acts (1, C, h, w), fc_weight (classes, C), mask (h, w) bool -> float.
    """
    m = ref_cam_from_weights(acts, fc_weight, class_idx)  # (h, w)
    return float(m[mask.bool()].sum() / mask.numel())


def ref_find_cam_layer(model: nn.Module, x: torch.Tensor,
                       candidates: list[tuple[str, nn.Module]]) -> str:
    """The candidate whose output, averaged over (h, w), is exactly what the last linear layer reads."""
    fc = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    outputs: dict[str, torch.Tensor] = {}
    handles = [module.register_forward_hook(lambda m, i, o, n=name: outputs.setdefault(n, o))
               for name, module in candidates]
    try:
        with torch.no_grad():
            logits = model(x)  # (1, classes)
    finally:
        for h in handles:
            h.remove()
    for name, _ in candidates:
        a = outputs[name]  # (1, C, h, w)
        if a.ndim == 4 and a.shape[1] == fc.in_features and \
                torch.allclose(fc(a.mean(dim=(2, 3))), logits, atol=1e-4, rtol=1e-4):
            return name
    raise ValueError("no candidate feeds the pooling")


def ref_gradcam_weights(grads: torch.Tensor) -> torch.Tensor:
    """alpha_k: the gradients averaged over (h, w). Shapes: (1, C, h, w) -> (C,)."""
    return grads[0].mean(dim=(1, 2))


def ref_contribution_map(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """``sum_k dS/dA^k_ij * A^k_ij``, signed (HiRes-CAM before its ReLU).

    Shapes: acts, grads (1, C, h, w) -> (h, w).
    """
    return torch.einsum("khw,khw->hw", grads[0], acts[0])


def ref_contrast_gradient(model: nn.Module, layer: nn.Module, x: torch.Tensor,
                          a: int, b: int) -> torch.Tensor:
    """d (logits[0, a] - logits[0, b]) / d (layer's output), by a forward hook and ``torch.autograd.grad``.

    Shapes: -> the layer's output shape (1, C, h, w).
    """
    stored: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: stored.append(output))
    try:
        logits = model(x)  # (1, classes)
    finally:
        handle.remove()
    (grads,) = torch.autograd.grad(logits[0, a] - logits[0, b], stored[0])  # (1, C, h, w)
    return grads


# ------------------------------------------------------------ 9.3 attention ---


def ref_masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, weight 0 where mask is False. Shapes: (N, T), (N, T) -> (N, T)."""
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)


def ref_next_token_head(attn: torch.Tensor, layer: int) -> int:
    """The head of ``layer`` with the largest mean a[i, i+1]. Shapes: attn (layers, heads, T, T)."""
    return int(attn[layer].diagonal(offset=1, dim1=-2, dim2=-1).mean(dim=-1).argmax())


def ref_rollout(attn: torch.Tensor) -> torch.Tensor:
    """Attention rollout: ``R = Â_L ... Â_1``, ``Â_l = rownorm(mean_heads(attn_l) / 2 + I / 2)``.

    Shapes: attn (layers, heads, T, T) -> (T, T), rows sum to 1.
    """
    eye = torch.eye(attn.shape[-1], dtype=attn.dtype)  # (T, T)
    out = eye
    for layer in attn.mean(dim=1):  # (T, T) each, first layer first
        step = 0.5 * layer + 0.5 * eye
        out = (step / step.sum(dim=-1, keepdim=True)) @ out
    return out


def ref_attention_probs(q: torch.Tensor, k: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``softmax(Q_h K_h^T / sqrt(d_head))`` per head. Shapes: q, k (T, D) -> (n_heads, T, T)."""
    t, d = q.shape
    d_head = d // n_heads
    qh = q.view(t, n_heads, d_head).transpose(0, 1)  # (heads, T, d_head)
    kh = k.view(t, n_heads, d_head).transpose(0, 1)  # (heads, T, d_head)
    return (qh @ kh.transpose(-1, -2) / math.sqrt(d_head)).softmax(dim=-1)


# ------------------------------------------------------------ 9.4 trust ---


def ref_deletion_auc(model: nn.Module, x: torch.Tensor, saliency: torch.Tensor, class_idx: int,
                     steps: int) -> float:
    """Deletion AUC, zero substrate, trapezoid rule. Shapes: x (1, 3, H, W), saliency (H, W)."""
    total = saliency.numel()
    order = torch.argsort(saliency.flatten(), descending=True, stable=True)  # (H*W,)
    images = []
    for k in range(steps + 1):
        xk = x.clone().flatten(2)  # (1, 3, H*W)
        xk[..., order[:k * total // steps]] = 0.0
        images.append(xk.view_as(x))
    with torch.no_grad():
        probs = model(torch.cat(images)).double().softmax(dim=1)[:, class_idx].numpy()  # (steps+1,)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    return float(((probs[1:] + probs[:-1]) / 2 * np.diff(fractions)).sum())


def ref_pointing_hit(cam: np.ndarray, mask: np.ndarray, tolerance: int) -> bool:
    """Whether argmax(cam) lies within Euclidean distance ``tolerance`` of a mask pixel."""
    i, j = np.unravel_index(int(np.argmax(cam)), cam.shape)
    rows, cols = np.nonzero(mask)
    return bool(((rows - i) ** 2 + (cols - j) ** 2 <= tolerance**2).any())


def ref_channel_iou(acts: torch.Tensor, mask: torch.Tensor, top: float) -> float:
    """Bau's rule for one channel and one concept, at the mask's resolution.

    ``T`` is the ``ceil((1 - top) * M)``-th smallest of the ``M`` activations; the
    channel's mask is ``acts > T``; the IoU is taken over the whole set.

    Shapes:
        acts: ``(N, S, S)``; mask: ``(N, S, S)`` bool.
    """
    values = acts.flatten().sort().values
    t = values[math.ceil((1 - top) * values.numel()) - 1]
    on = acts > t
    inter = (on & mask).sum().item()
    union = (on | mask).sum().item()
    return inter / union if union else 0.0



REFERENCES: dict[str, Callable[..., Any]] = {
    "layers.check_showimg_normalize": ref_showimg_normalize,
    "layers.check_first_layer_of_size": ref_first_layer_of_size,
    "layers.check_count_dead_channels": ref_count_dead_channels,
    "layers.check_top_channels": ref_top_channels,
    "cam.check_cam_from_weights": ref_cam_from_weights,
    "cam.check_region_drop": ref_region_drop,
    "cam.check_find_cam_layer": ref_find_cam_layer,
    "cam.check_gradcam_weights": ref_gradcam_weights,
    "cam.check_contribution_map": ref_contribution_map,
    "cam.check_contrast_gradient": ref_contrast_gradient,
    "attention.check_masked_softmax": ref_masked_softmax,
    "attention.check_next_token_head": ref_next_token_head,
    "attention.check_rollout": ref_rollout,
    "attention.check_attention_probs": ref_attention_probs,
    "trust.check_deletion_auc": ref_deletion_auc,
    "trust.check_pointing_hit": ref_pointing_hit,
    "channels.check_channel_iou": ref_channel_iou,
}
"""Every autograded exercise's reference, by the path of its check in ``helpers.exercises``."""
