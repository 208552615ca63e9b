"""Faithfulness of a saliency map: deletion and insertion curves.

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

from ..contract import check_maps, logits_of, targets_from
from .baselines import gaussian_blur, random_map, sobel_map  # noqa: F401 (part of this API)
from .confidence import confidence_change, confidence_values  # noqa: F401 (part of this API)

Substrate = str | torch.Tensor | Callable[[torch.Tensor], torch.Tensor]
SUBSTRATES = ("zeros", "mean", "blur")


@dataclass(frozen=True)
class CurveKind:
    """What tells deletion from insertion: the default substrate (RISE's: zeros for
    deletion, a blur for insertion) and how to read the AUC (a faithful map makes
    deletion fall fast, insertion rise fast)."""

    name: str
    substrate: str
    higher_is_better: bool


KINDS = {k.name: k for k in (CurveKind("deletion", "zeros", False),
                             CurveKind("insertion", "blur", True))}


@dataclass
class Curve:
    """A deletion or insertion curve.

    Attributes:
        kind: ``"deletion"`` or ``"insertion"``.
        fractions: the fraction of pixels changed at each point, from 0 to 1.
        probs: the class probability (or logit, with ``score="logit"``) at each point.
        auc: the area under ``probs`` over ``fractions`` (trapezoid rule).
        class_idx: the class followed (``None`` for a callable target).

    Shapes:
        fractions, probs: ``(steps + 1,)``.
    """

    kind: str
    fractions: np.ndarray
    probs: np.ndarray
    auc: float
    class_idx: int | None


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
def perturbation_curves(
    model: nn.Module, x: torch.Tensor, maps: np.ndarray | torch.Tensor, kind: str,
    class_idx: object = None, steps: int = 50, substrate: Substrate | None = None,
    batch_size: int = 32, score: str = "probability",
) -> tuple[np.ndarray, np.ndarray, list[int | None]]:
    """Deletion or insertion curves of N maps (Petsiuk et al. 2018), all images in few batches.

    Pixels are ranked by decreasing saliency. At step ``k`` the first
    ``n_k = round(k P / steps)`` of the ``P = H W`` pixels are changed (all channels):

    * deletion: ``x_k = where(rank < n_k, substrate, x)``, from ``x`` to the substrate;
    * insertion: ``x_k = where(rank < n_k, x, substrate)``, from the substrate to ``x``.

    ``curve[k]`` is the target's score on ``softmax(model(x_k))`` (the class probability
    for a class index; a callable target of :mod:`helpers.contract` gets the probabilities).

    Args:
        model: a classifier returning logits ``(N, classes)``; used in eval mode as given.
        x: the model's input (already normalized).
        maps: one map per image at the input's resolution; larger = more important.
        kind: ``"deletion"`` or ``"insertion"``.
        class_idx: a target (:mod:`helpers.contract`); ``None``: each image's top-1 class.
        steps: the number of intervals (``steps + 1`` images per map).
        substrate: see :func:`make_substrate`; default ``"zeros"`` for deletion,
            ``"blur"`` for insertion (RISE's choices).
        batch_size: images per forward pass (of the ``N * (steps + 1)``).
        score: ``"probability"`` (the softmax, as RISE) or ``"logit"`` (the class's
            logit ``y^c``, to see whether a rise of the probability comes from the
            class itself or from the other classes falling).

    Returns:
        fractions ``(steps + 1,)``, curves ``(N, steps + 1)``, the classes followed.

    Shapes:
        x: ``(N, 3, H, W)``; maps: ``(N, H, W)``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}")
    if score not in ("probability", "logit"):
        raise ValueError(f"score must be 'probability' or 'logit', got {score!r}")
    s = check_maps(x, maps)
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if substrate is None:
        substrate = KINDS[kind].substrate
    base = make_substrate(x, substrate)  # (N, 3, H, W)
    n, k = x.shape[0], steps + 1
    targets = targets_from(class_idx, n, logits_of(model, x) if class_idx is None else None)
    ranks = torch.stack([rank_pixels(m) for m in s]).view(n, 1, *s.shape[1:])  # (N, 1, H, W)
    total = s[0].numel()
    counts = torch.round(torch.linspace(0, total, k, dtype=torch.float64)).long().to(x.device)
    first, second = (base, x) if kind == "deletion" else (x, base)
    scores = []
    for start in range(0, n * k, batch_size):
        j = torch.arange(start, min(start + batch_size, n * k), device=x.device)
        ii, kk = j // k, j % k  # image, step
        changed = ranks[ii] < counts[kk].view(-1, 1, 1, 1)  # (B, 1, H, W)
        batch = torch.where(changed, first[ii], second[ii])  # (B, 3, H, W)
        out = logits_of(model, batch).float()  # (B, classes)
        probs = out.softmax(dim=1) if score == "probability" else out
        scores.append(targets.scores(probs, ii).cpu())
    fractions = (counts.double() / total).cpu().numpy()
    return fractions, torch.cat(scores).double().view(n, k).numpy(), targets.classes


def perturbation_curve(
    model: nn.Module, x: torch.Tensor, saliency: np.ndarray | torch.Tensor, kind: str,
    class_idx: object = None, steps: int = 50, substrate: Substrate | None = None,
    batch_size: int = 32, score: str = "probability",
) -> Curve:
    """The curve of one image (:func:`perturbation_curves` with ``N = 1``).

    Shapes:
        x: ``(1, 3, H, W)``; saliency: ``(H, W)``; curve: ``(steps + 1,)``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one image (1, 3, H, W), got {shape}; for N images use "
                         f"perturbation_curves or trust.metric.deletion")
    f, curves, classes = perturbation_curves(model, x, saliency, kind, class_idx, steps,
                                             substrate, batch_size, score)
    return Curve(kind, f, curves[0], auc(f, curves[0]), classes[0])


def _one_kind(kind: str) -> Callable[..., Curve]:
    """:func:`perturbation_curve` of one kind, with that kind's default substrate."""
    k = KINDS[kind]

    def curve(model: nn.Module, x: torch.Tensor, saliency: np.ndarray | torch.Tensor,
              class_idx: int | None = None, steps: int = 50, substrate: Substrate = k.substrate,
              batch_size: int = 32, score: str = "probability") -> Curve:
        return perturbation_curve(model, x, saliency, kind, class_idx, steps, substrate,
                                  batch_size, score)

    curve.__name__ = curve.__qualname__ = f"{kind}_curve"
    better = "higher" if k.higher_is_better else "lower"
    curve.__doc__ = (f':func:`perturbation_curve` with ``kind="{kind}"`` '
                     f"({better} AUC = more faithful)." + """

    Shapes:
        x: ``(1, 3, H, W)``; saliency: ``(H, W)``; curve: ``(steps + 1,)``.
    """)
    return curve


deletion_curve = _one_kind("deletion")
insertion_curve = _one_kind("insertion")
