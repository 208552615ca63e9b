"""Faithfulness of a saliency map: deletion and insertion curves, confidence drop.

A map is *faithful* when the pixels it ranks first are the ones the model needs.
Deletion (Petsiuk et al. 2018, RISE) replaces the pixels in decreasing order of
saliency by a *substrate* and follows the class probability: a faithful map makes
it fall fast (low AUC). Insertion starts from the substrate and puts the pixels
back in the same order: a faithful map makes it rise fast (high AUC). Every step's
image goes through the model in a few batches, so a curve costs
``ceil((steps + 1) / batch_size)`` forward passes.

Pure functions of tensors: they return numbers and draw nothing. The model is
only called under ``torch.no_grad()``; nothing on it is changed.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .baselines import gaussian_blur, random_map, sobel_map  # noqa: F401 (part of this API)

Substrate = str | torch.Tensor | Callable[[torch.Tensor], torch.Tensor]
SUBSTRATES = ("zeros", "mean", "blur")


@dataclass
class Curve:
    """A deletion or insertion curve.

    Attributes:
        kind: ``"deletion"`` or ``"insertion"``.
        fractions: the fraction of pixels changed at each point, from 0 to 1.
        probs: the class probability (or logit, with ``score="logit"``) at each point.
        auc: the area under ``probs`` over ``fractions`` (trapezoid rule).
        class_idx: the class followed.

    Shapes:
        fractions, probs: ``(steps + 1,)``.
    """

    kind: str
    fractions: np.ndarray
    probs: np.ndarray
    auc: float
    class_idx: int


def auc(fractions: np.ndarray | torch.Tensor, values: np.ndarray | torch.Tensor) -> float:
    """Area under a curve by the trapezoid rule: ``sum_k (f_{k+1} - f_k)(v_k + v_{k+1}) / 2``.

    Shapes:
        fractions, values: ``(K,)`` with ``K >= 2``; fractions increasing.
    """
    f = np.asarray(fractions, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if f.ndim != 1 or f.shape != v.shape:
        raise ValueError(f"fractions and values must be 1-D of one length, "
                         f"got {f.shape} and {v.shape}")
    if f.size < 2:
        raise ValueError("a curve needs at least two points to have an area")
    if np.any(np.diff(f) < 0):
        raise ValueError("fractions must be increasing")
    return float(np.sum(np.diff(f) * (v[1:] + v[:-1]) / 2))


def make_substrate(x: torch.Tensor, substrate: Substrate) -> torch.Tensor:
    """The image that replaces deleted pixels (or that insertion starts from).

    Args:
        x: the model's input.
        substrate: ``"zeros"`` (zeros in the model's input space: for a model
            with ImageNet normalization this is the ImageNet mean colour),
            ``"mean"`` (the image's own mean colour), ``"blur"`` (:func:`gaussian_blur`),
            a tensor broadcastable to ``x``, or a function ``x -> tensor``.

    Shapes:
        x: ``(1, 3, H, W)`` -> ``(1, 3, H, W)``.
    """
    if isinstance(substrate, str):
        if substrate == "zeros":
            return torch.zeros_like(x)
        if substrate == "mean":
            return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
        if substrate == "blur":
            return gaussian_blur(x)
        raise ValueError(f"unknown substrate {substrate!r}; use one of {SUBSTRATES}, "
                         f"a tensor or a function")
    out = substrate(x) if callable(substrate) else substrate
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"a substrate must be a tensor, got {type(out).__name__}")
    try:
        return torch.broadcast_to(out.to(x), x.shape)
    except RuntimeError:
        raise ValueError(f"substrate of shape {tuple(out.shape)} does not fit the input "
                         f"{tuple(x.shape)}") from None


def _check(x: torch.Tensor, saliency: np.ndarray | torch.Tensor, steps: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[:2] != (1, 3):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one image (1, 3, H, W), got {shape}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer (the number of intervals), "
                         f"got {steps!r}")
    s = saliency if isinstance(saliency, torch.Tensor) else torch.as_tensor(np.asarray(saliency))
    if s.shape != x.shape[-2:]:
        raise ValueError(f"saliency map of shape {tuple(s.shape)} does not match the image's "
                         f"(H, W) = {tuple(x.shape[-2:])}; upsample it to the input size first")
    if not bool(torch.isfinite(s.float()).all()):
        raise ValueError("saliency map contains NaN or inf values")
    return s.detach().float().to(x.device)


def rank_pixels(saliency: torch.Tensor) -> torch.Tensor:
    """Each pixel's rank, 0 for the most salient; ties keep row-major order (as torchcam does).

    Shapes:
        saliency: ``(H, W)`` -> ``(H * W,)`` int64.
    """
    order = torch.argsort(saliency.flatten(), descending=True, stable=True)  # (P,)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(order.numel(), device=order.device)
    return ranks


@torch.no_grad()
def perturbation_curve(
    model: nn.Module, x: torch.Tensor, saliency: np.ndarray | torch.Tensor, kind: str,
    class_idx: int | None = None, steps: int = 50, substrate: Substrate | None = None,
    batch_size: int = 32, score: str = "probability",
) -> Curve:
    """Deletion or insertion curve of one map (Petsiuk et al. 2018).

    Pixels are ranked by decreasing saliency. At step ``k`` the first
    ``n_k = round(k P / steps)`` of the ``P = H W`` pixels are changed (all channels):

    * deletion: ``x_k = where(rank < n_k, substrate, x)``, from ``x`` to the substrate;
    * insertion: ``x_k = where(rank < n_k, x, substrate)``, from the substrate to ``x``.

    ``probs[k] = softmax(model(x_k))[class_idx]``; ``auc`` integrates it over
    ``fractions = n_k / P`` in [0, 1].

    Args:
        model: a classifier returning logits ``(N, classes)``; used in eval mode as given.
        x: the model's input (already normalized).
        saliency: the map at the input's resolution; larger = more important.
        kind: ``"deletion"`` or ``"insertion"``.
        class_idx: the class to follow; ``None``: the top-1 class of ``x``.
        steps: the number of intervals (``steps + 1`` images).
        substrate: see :func:`make_substrate`; default ``"zeros"`` for deletion,
            ``"blur"`` for insertion (RISE's choices).
        batch_size: images per forward pass.
        score: ``"probability"`` (the softmax, as RISE) or ``"logit"`` (the class's
            logit ``y^c``, to see whether a rise of the probability comes from the
            class itself or from the other classes falling).

    Shapes:
        x: ``(1, 3, H, W)``; saliency: ``(H, W)``; curve: ``(steps + 1,)``.
    """
    if score not in ("probability", "logit"):
        raise ValueError(f"score must be 'probability' or 'logit', got {score!r}")
    if kind not in ("deletion", "insertion"):
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}")
    s = _check(x, saliency, steps)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if substrate is None:
        substrate = "zeros" if kind == "deletion" else "blur"
    base = make_substrate(x, substrate)
    if class_idx is None:
        class_idx = int(model(x).argmax(dim=1)[0])
    ranks = rank_pixels(s).view(1, 1, *s.shape)  # (1, 1, H, W)
    total = s.numel()
    counts = torch.round(torch.linspace(0, total, steps + 1, dtype=torch.float64)).long()
    probs = []
    for start in range(0, steps + 1, batch_size):
        n = counts[start:start + batch_size].to(x.device).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        changed = ranks < n  # (B, 1, H, W)
        first, second = (base, x) if kind == "deletion" else (x, base)
        batch = torch.where(changed, first, second)  # (B, 3, H, W)
        out = model(batch).float()  # (B, classes)
        probs.append((out.softmax(dim=1) if score == "probability" else out)[:, class_idx].cpu())
    fractions = (counts.double() / total).numpy()
    p = torch.cat(probs).double().numpy()
    return Curve(kind, fractions, p, auc(fractions, p), int(class_idx))


def deletion_curve(model: nn.Module, x: torch.Tensor, saliency: np.ndarray | torch.Tensor,
                   class_idx: int | None = None, steps: int = 50,
                   substrate: Substrate = "zeros", batch_size: int = 32,
                   score: str = "probability") -> Curve:
    """:func:`perturbation_curve` with ``kind="deletion"`` (lower AUC = more faithful)."""
    return perturbation_curve(model, x, saliency, "deletion", class_idx, steps, substrate,
                              batch_size, score)


def insertion_curve(model: nn.Module, x: torch.Tensor, saliency: np.ndarray | torch.Tensor,
                    class_idx: int | None = None, steps: int = 50,
                    substrate: Substrate = "blur", batch_size: int = 32,
                   score: str = "probability") -> Curve:
    """:func:`perturbation_curve` with ``kind="insertion"`` (higher AUC = more faithful)."""
    return perturbation_curve(model, x, saliency, "insertion", class_idx, steps, substrate,
                              batch_size, score)


@torch.no_grad()
def confidence_change(model: nn.Module, x: torch.Tensor, maps: np.ndarray | torch.Tensor,
                      class_idx: int | list[int] | None = None) -> dict[str, float]:
    """Average Drop and Increase in Confidence (Chattopadhay et al. 2018), as in torchcam.

    The image is multiplied by its map (in the model's input space), and the class
    probability ``Y`` of ``x`` is compared with ``O`` of ``map * x``:

    ``avg_drop = mean_i max(0, Y_i - O_i) / Y_i``;  ``increase = mean_i [Y_i < O_i]``
    (fractions; the papers print them as percentages).

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)`` in [0, 1].
    """
    m = torch.as_tensor(np.asarray(maps) if not isinstance(maps, torch.Tensor) else maps)
    if x.ndim != 4 or m.shape != (x.shape[0], *x.shape[-2:]):
        raise ValueError(f"maps must have shape (N, H, W) = {(x.shape[0], *x.shape[-2:])}, "
                         f"got {tuple(m.shape)}")
    m = m.detach().float().to(x.device)
    p = model(x).float().softmax(dim=1)  # (N, classes)
    if class_idx is None:
        idx = p.argmax(dim=1)
    else:
        idx = torch.as_tensor([class_idx] * x.shape[0] if isinstance(class_idx, int) else class_idx,
                              device=x.device)
        if idx.shape != (x.shape[0],):
            raise ValueError(f"class_idx must be an int or {x.shape[0]} ints, got {class_idx!r}")
    y = p.gather(1, idx[:, None])[:, 0]  # (N,)
    o = model(m[:, None] * x).float().softmax(dim=1).gather(1, idx[:, None])[:, 0]  # (N,)
    return {"avg_drop": float((torch.relu(y - o) / y).mean()),
            "increase": float((y < o).float().mean())}
