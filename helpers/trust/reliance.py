"""What a network uses, measured by intervention: the ground truth a heat map is judged against.

A heat map claims *what the model used*, not *where the object is*. On images whose
pieces of evidence are known (the marker world of :mod:`helpers.toy.markers`), remove
one piece and watch the network: if accuracy and the true class's logit fall, the
network used it. An equal-area patch of plain background, changed the same way,
is the control: it shows the change itself does no harm.

Every intervention paints the region with one flat colour, the mean of the image's
background (its pixels outside every evidence mask), so that the region carries no
shape and no marker. The functions take models, images and masks; they know no
explanation method, so any map can be scored against what they measure
(:func:`evidence_scores`, :func:`model_contrast`).

Introduced in notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .localization import energy_in_mask, pointing_game

__all__ = ["CONDITIONS", "control_masks", "evidence_scores", "fill_regions", "intervene",
           "model_contrast", "reliance_table", "used_regions"]

CONDITIONS: tuple[str, ...] = ("original", "no shape", "no marker", "no both", "control")
"""The interventions of :func:`intervene`, in table order."""


def _check_masks(images: torch.Tensor, *masks: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("no images (N = 0): give at least one image with its masks")
    for m in masks:
        if m.shape != (images.shape[0], *images.shape[2:]):
            raise ValueError(f"a mask of shape {tuple(m.shape)} does not match images "
                             f"{tuple(images.shape)}: pass one (H, W) mask per image")
        if m.dtype != torch.bool:
            raise TypeError(f"masks must be bool tensors, got {m.dtype}")


def fill_regions(images: torch.Tensor, region: torch.Tensor,
                 background: torch.Tensor) -> torch.Tensor:
    """Paint ``region`` of each image with the mean colour of its ``background`` pixels.

    Shapes:
        images: ``(N, 3, H, W)``; region, background: ``(N, H, W)`` bool; returns ``(N, 3, H, W)``.

    Raises:
        ValueError: an image without background pixels, or mismatched shapes.
    """
    _check_masks(images, region, background)
    count = background.sum(dim=(1, 2))  # (N,)
    if (count == 0).any():
        raise ValueError("an image has no background pixels to take the fill colour from")
    bg = background[:, None].to(images.dtype)  # (N, 1, H, W)
    colour = (images * bg).sum(dim=(2, 3)) / count[:, None]  # (N, 3)
    return torch.where(region[:, None], colour[:, :, None, None], images)


def control_masks(avoid: torch.Tensor, areas: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One rectangle per image of about the given area, touching none of the ``avoid`` pixels.

    A square of side ``round(sqrt(area))`` where one fits; else the first of the
    aspect ratios 1:2, 2:1, 1:3, 3:1, 1:4, 4:1 (same area) that fits. Among the positions
    where it overlaps no avoided pixel (nor a 1-pixel ring around them) one is drawn
    from ``seed``.

    Shapes:
        avoid: ``(N, H, W)`` bool; areas: ``(N,)``; returns ``(N, H, W)`` bool.

    Raises:
        ValueError: no free position for some image.
    """
    n, h, w = avoid.shape
    rng = np.random.default_rng(seed)
    grown = torch.nn.functional.max_pool2d(avoid[:, None].float(), 3, 1, 1)  # (N, 1, H, W)
    out = torch.zeros_like(avoid)
    for i in range(n):
        area = float(areas[i])
        for aspect in (1.0, 0.5, 2.0, 1 / 3, 3.0, 0.25, 4.0):  # height / width
            rh = max(1, round(math.sqrt(area * aspect)))
            rw = max(1, round(area / rh))
            if rh > h or rw > w:
                continue
            hits = torch.nn.functional.avg_pool2d(grown[i:i + 1], (rh, rw), 1)[0, 0]
            free = torch.nonzero(hits == 0)  # top-left corners of free rectangles
            if len(free):
                top, left = free[int(rng.integers(len(free)))].tolist()
                out[i, top:top + rh, left:left + rw] = True
                break
        else:
            raise ValueError(f"image {i}: no free rectangle of area {area:.0f} "
                             f"outside the evidence")
    return out


def intervene(images: torch.Tensor, shape_masks: torch.Tensor, marker_masks: torch.Tensor,
              seed: int = 0) -> dict[str, torch.Tensor]:
    """The images of every condition in :data:`CONDITIONS`.

    ``control`` paints a rectangle of the shape's area in the background
    (see :func:`control_masks`).

    Shapes:
        images: ``(N, 3, H, W)``; masks: ``(N, H, W)`` bool; each value ``(N, 3, H, W)``.
    """
    _check_masks(images, shape_masks, marker_masks)
    evidence = shape_masks | marker_masks
    control = control_masks(evidence, shape_masks.sum(dim=(1, 2)), seed)
    regions = {"no shape": shape_masks, "no marker": marker_masks, "no both": evidence,
               "control": control}
    out = {"original": images}
    for name, region in regions.items():
        out[name] = fill_regions(images, region, ~(evidence | control))
    return out


CHUNK = 50
"""Images per forward pass in :func:`reliance_table`. A toy network's logits are the same bit for
bit in any chunking; 500 images at once took 0.38 s, ten chunks of 50 took 0.08 s (the
activations of 500 images do not fit in the caches, and each is a fresh mapping to zero)."""


@torch.no_grad()
def reliance_table(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   shape_masks: torch.Tensor, marker_masks: torch.Tensor,
                   seed: int = 0) -> dict[str, dict[str, float]]:
    """Accuracy and mean true-class logit of ``model`` under every intervention.

    Returns:
        ``{condition: {"accuracy": a, "logit": mean y^c of the true class c}}``,
        conditions in :data:`CONDITIONS` order.

    Shapes:
        images: ``(N, 3, H, W)`` in [0, 1]; labels: ``(N,)``; masks: ``(N, H, W)``.
    """
    if model.training:
        raise ValueError("call model.eval() first: batch norm would use batch statistics")
    table, seen = {}, []  # seen: (images, logits) of the conditions run so far
    for name, x in intervene(images, shape_masks, marker_masks, seed).items():
        # a condition whose images equal an earlier one's (no marker to remove: "no marker" is
        # the original, "no both" is "no shape") gets that one's logits, not a second pass
        logits = next((out for prev, out in seen if torch.equal(prev, x)), None)
        if logits is None:  # in chunks: one pass over 500 images is 5x slower (memory), same logits
            logits = torch.cat([model(part) for part in x.split(CHUNK)])  # (N, classes)
            seen.append((x, logits))
        table[name] = {"accuracy": float((logits.argmax(1) == labels).float().mean()),
                       "logit": float(logits.gather(1, labels[:, None]).mean())}
    return table


def used_regions(table: dict[str, dict[str, float]], share: float = 0.25) -> list[str]:
    """Which evidence the network used: ``"shape"``, ``"marker"``, both or none.

    A region counts as used when removing it lowers the mean true-class logit, beyond
    what the control lowers it, by at least ``share`` of the drop when both are removed.
    """
    base = table["original"]["logit"] - table["control"]["logit"]
    both = table["original"]["logit"] - table["no both"]["logit"] - base
    if both <= 0:
        return []
    return [r for r in ("shape", "marker")
            if table["original"]["logit"] - table[f"no {r}"]["logit"] - base >= share * both]


def evidence_scores(maps: np.ndarray | torch.Tensor, evidence: np.ndarray | torch.Tensor,
                    tolerance: int = 0) -> dict[str, float]:
    """Pointing game (within ``tolerance`` pixels) and energy of maps against the evidence used.

    Shapes:
        maps: ``(N, H, W)`` non-negative; evidence: ``(N, H, W)`` bool.
    """
    return {"pointing": float(np.mean(pointing_game(maps, evidence, tolerance))),
            "energy": float(np.nanmean(energy_in_mask(maps, evidence)))}


def model_contrast(maps_a: np.ndarray | torch.Tensor, maps_b: np.ndarray | torch.Tensor,
                   mask_a: np.ndarray | torch.Tensor,
                   mask_b: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Model contrast: net A uses region a, net B region b; do the maps follow?

    On the same images, the map of net A should hold more of its energy on ``a`` than
    net B's map does, and net B's more on ``b`` than net A's.

    Returns:
        ``shift_a`` = mean of E_A(a) - E_B(a); ``shift_b`` = mean of E_B(b) - E_A(b);
        ``moved`` = the share of images where both differences are positive.

    Shapes:
        maps_a, maps_b: ``(N, H, W)`` non-negative; mask_a, mask_b: ``(N, H, W)`` bool.
    """
    ea_a, eb_a = energy_in_mask(maps_a, mask_a), energy_in_mask(maps_b, mask_a)
    eb_b, ea_b = energy_in_mask(maps_b, mask_b), energy_in_mask(maps_a, mask_b)
    d_a, d_b = ea_a - eb_a, eb_b - ea_b  # (N,) each; NaN for an all-zero map
    return {"shift_a": float(np.nanmean(d_a)), "shift_b": float(np.nanmean(d_b)),
            "moved": float(np.mean((d_a > 0) & (d_b > 0)))}
