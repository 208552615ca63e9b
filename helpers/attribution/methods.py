"""Pixel attributions: how much each input pixel matters for one class score.

Eight methods with one signature ``(model, x, class_idx=None, **options)``, each
returning an :class:`~helpers.attribution.base.Attribution`: saliency (vanilla
gradient), SmoothGrad, Guided Backprop, Guided Grad-CAM, Integrated Gradients
(:mod:`helpers.attribution.integrated`), occlusion (:mod:`helpers.attribution.occlusion`),
LRP (:mod:`helpers.attribution.lrp`) and RISE (:mod:`helpers.attribution.rise`).
:data:`ATTRIBUTIONS` maps their names to the functions (a view of :mod:`helpers.registry`).

``x`` is one image or a batch ``(N, 3, H, W)``; ``class_idx`` is ``None`` (each
image's top-1 class), one int or N ints. The model's parameters come out
unchanged, with no ``.grad`` and ``requires_grad`` restored; no hook is
registered, and Guided Backprop swaps the ReLU modules only during the call
(:mod:`helpers.attribution.guided`). Numbers only: :mod:`helpers.draw.viz` draws them.

For notebook 9.4 (measuring how far a heat map can be trusted, issue 11).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .. import cam
from ..contract import check_x, frozen, is_single, resolve_targets
from ..registry import FamilyView, register
from .base import REDUCTIONS, Attribution, check_count, check_reduce, finish, input_grads, rows
from .guided import guided_relus, unguided_relus
from .integrated import IG_METHODS, integrated_gradients
from .lrp import lrp
from .occlusion import occlusion
from .rise import rise

__all__ = ["ATTRIBUTIONS", "IG_METHODS", "REDUCTIONS", "Attribution", "every_map",
           "guided_backprop", "guided_grad_cam", "integrated_gradients", "lrp", "occlusion", "rise",
           "saliency", "smoothgrad"]


ATTRIBUTIONS = FamilyView("attribution")
"""Name to function; each is ``f(model, x, class_idx=None, **options) -> Explanation``.
``guided_grad_cam`` needs the keyword ``layer``. A view of :mod:`helpers.registry`."""


@register("saliency", family="attribution", label="Saliency")
def saliency(model: nn.Module, x: torch.Tensor, class_idx: object = None, *,
             reduce: str = "max_abs") -> Attribution:
    """Saliency (Simonyan et al. 2014): the gradient of the class score w.r.t. the pixels.

    Formula:
        ``raw = d y^c / d x`` (``y^c`` the logit); ``map = minmax(max_c |raw_c|)``.

    Args:
        model: a classifier in eval mode that returns logits ``(N, classes)``.
        x: preprocessed images.
        class_idx: ``None`` (top-1 per image), an int, or N ints.
        reduce: one of :data:`REDUCTIONS`.

    Shapes:
        x: ``(N, 3, H, W)``; see :class:`Attribution` for the result.

    Raises:
        TypeError / ValueError: bad ``x``, ``class_idx`` of the wrong type or length.
        IndexError: a class outside ``[0, classes)``.
    """
    check_x(x)
    check_reduce(reduce)
    targets = resolve_targets(model, x, class_idx)
    with frozen(model):
        grads = input_grads(model, x, targets)  # (N, 3, H, W)
    return finish(grads, targets, "saliency", reduce, is_single(x, class_idx))


@register("smoothgrad", family="attribution", label="SmoothGrad")
def smoothgrad(model: nn.Module, x: torch.Tensor, class_idx: object = None, *,
               samples: int = 25, noise_level: float = 0.15, seed: int = 0,
               batch_size: int = 16, reduce: str = "max_abs") -> Attribution:
    """SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies of the image.

    Formula:
        ``raw = 1/S * sum_s d y^c / d x (x + eps_s)``, ``eps_s ~ N(0, sigma^2)``,
        ``sigma = noise_level * (max(x) - min(x))`` per image.

    The noise comes from a private generator seeded with ``seed`` (the global
    RNG is untouched), drawn at once in captum's layout ``(N * S, 3, H, W)``,
    image-major: ``torch.manual_seed(seed)`` before captum's ``NoiseTunnel``
    draws the same noise. It is drawn on the CPU and moved to ``x``'s device, so
    a seed gives the same noise on a GPU (a CUDA generator draws other numbers).

    Args:
        model, x, class_idx, reduce: as for :func:`saliency`; ``None`` means
            the top-1 class of the clean image.
        samples: noisy copies per image ``S`` (>= 1).
        noise_level: ``sigma`` as a fraction of the image's value range (>= 0).
        seed: seed of the noise.
        batch_size: noisy copies per forward pass.

    Shapes:
        x: ``(N, 3, H, W)``; noise: ``(N * S, 3, H, W)``.
    """
    check_x(x)
    check_reduce(reduce)
    s = check_count("samples", samples)
    bs = check_count("batch_size", batch_size)
    if not isinstance(noise_level, (int, float)) or isinstance(noise_level, bool) \
            or not noise_level >= 0:
        raise ValueError(f"noise_level must be a number >= 0, got {noise_level!r}")
    x = x.detach()
    n = x.shape[0]
    sigma = noise_level * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))  # (N,)
    gen = torch.Generator().manual_seed(int(seed))  # on the CPU: the same noise on every device
    noise = torch.randn((n * s, *x.shape[1:]), generator=gen, dtype=x.dtype).to(x.device)
    noise *= sigma.repeat_interleave(s)[:, None, None, None]  # (N * S, 3, H, W)
    total = torch.zeros_like(x)
    targets = resolve_targets(model, x, class_idx)
    with frozen(model):
        for j, ii, _ in rows(n * s, bs, s, x.device):
            grads = input_grads(model, x[ii] + noise[j], targets, ii)  # checks the range
            total.index_add_(0, ii, grads)
    return finish(total / s, targets, "smoothgrad", reduce, is_single(x, class_idx),
                  {"samples": s}, sigma=sigma.tolist())


def _refuse_unguided(score: torch.Tensor) -> None:
    found = unguided_relus(score)
    if found:
        raise RuntimeError(
            f"the model applies {len(found)} ReLU(s) as a function call (F.relu, torch.relu, "
            f"x.relu(), F.relu6; autograd node {found[0]}); Guided Backprop only guides "
            f"nn.ReLU / nn.ReLU6 modules. Replace the calls with modules.")


def _guided_grads(model: nn.Module, x: torch.Tensor, targets) -> torch.Tensor:
    with frozen(model), guided_relus(model):
        return input_grads(model, x, targets, check=_refuse_unguided)


@register("guided_backprop", family="attribution", label="Guided Backprop")
def guided_backprop(model: nn.Module, x: torch.Tensor, class_idx: object = None, *,
                    reduce: str = "max_abs") -> Attribution:
    """Guided Backprop (Springenberg et al. 2015): a gradient that only passes positive signals.

    Formula:
        the gradient ``d y^c / d x``, except that every ReLU passes back
        ``max(g, 0) * [x_relu > 0]`` instead of ``g * [x_relu > 0]``
        (ReLU6: ``max(g, 0) * [0 < x_relu < 6]``).

    The ``nn.ReLU`` / ``nn.ReLU6`` modules are swapped only during the call
    (:func:`helpers.attribution.guided.guided_relus`). A model that calls ``F.relu`` /
    ``torch.relu`` / ``x.relu()`` as a function gets a ``RuntimeError``, and one
    without ReLU modules a ``ValueError``; other activations keep their gradient.

    Args:
        model, x, class_idx, reduce: as for :func:`saliency`.

    Shapes:
        x: ``(N, 3, H, W)``; see :class:`Attribution`.
    """
    check_x(x)
    check_reduce(reduce)
    targets = resolve_targets(model, x, class_idx)
    grads = _guided_grads(model, x, targets)
    return finish(grads, targets, "guided_backprop", reduce, is_single(x, class_idx))


@register("guided_grad_cam", family="attribution", label="Guided Grad-CAM", needs_layer=True)
def guided_grad_cam(model: nn.Module, x: torch.Tensor, class_idx: object = None, *,
                    layer: nn.Module | str, reduce: str = "max_abs") -> Attribution:
    """Guided Grad-CAM (Selvaraju et al. 2017): Guided Backprop times the upsampled Grad-CAM.

    Formula:
        ``raw = GB(x) * cam``, where ``cam (H, W)`` is :func:`helpers.cam.grad_cam`'s
        map of ``layer`` (ReLU, bilinear upsampling, min-max) for the same class.

    Args:
        model, x, class_idx, reduce: as for :func:`saliency`.
        layer: the Grad-CAM layer (a module of ``model`` or its name), required.

    Shapes:
        x: ``(N, 3, H, W)``; ``info["cam"]``: the Grad-CAM maps ``(H, W)`` or ``(N, H, W)``.
    """
    check_x(x)
    check_reduce(reduce)
    targets = resolve_targets(model, x, class_idx)
    grads = _guided_grads(model, x, targets)  # (N, 3, H, W)
    cams = cam.grad_cam(model, layer, x, targets.fn or list(map(_either, targets.classes,
                                                                 targets.row_fns))).maps
    raw = grads * torch.from_numpy(cams).to(grads)[:, None]  # cams: (N, H, W)
    return finish(raw, targets, "guided_grad_cam", reduce, is_single(x, class_idx), cam=cams)


def _either(c: int | None, fn: object) -> object:
    return fn if c is None else c


def every_map(model: nn.Module, layer: nn.Module, x: torch.Tensor, class_idx: list[int], *,
              options: dict[str, dict[str, Any]] | None = None) -> dict[str, np.ndarray]:
    """The map of every method in ``cam.METHODS`` and :data:`ATTRIBUTIONS`, for the same classes.

    CAM methods use ``layer``; so does Guided Grad-CAM. ``options`` gives a method's
    keyword arguments by name (e.g. ``{"occlusion": {"window": 8, "stride": 4}}``).

    Shapes:
        x: ``(N, 3, H, W)``; class_idx: N ints; each map ``(N, H, W)`` in [0, 1].
    """
    targets = [int(c) for c in class_idx]
    if len(targets) != x.shape[0]:
        raise ValueError(f"need one class per image: {len(targets)} classes, {x.shape[0]} images")
    maps = {name: np.asarray(method(model, layer, x, targets).cam).reshape(-1, *x.shape[-2:])
            for name, method in cam.METHODS.items()}
    for name, fn in ATTRIBUTIONS.items():
        opts = dict((options or {}).get(name, {}))
        if name == "guided_grad_cam":
            opts["layer"] = layer
        maps[name] = np.asarray(fn(model, x, targets, **opts).map).reshape(-1, *x.shape[-2:])
    return maps
