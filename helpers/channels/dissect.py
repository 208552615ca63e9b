"""Network dissection (Bau et al. 2017): score every channel against labelled concepts.

For channel ``k`` of a layer, over all images and all positions of its map:

1. **threshold** ``T_k`` at the top quantile of the maps at the layer's own resolution:
   ``P(a_k > T_k) = top``; Bau's rule is ``top = 0.005`` (the top 0.5 % of the
   channel's activations);
2. **upsample** each map bilinearly to the image's size and keep ``a_k > T_k``;
3. **IoU** with each concept ``c`` over the whole set:
   ``IoU_{k,c} = sum |M_k ∩ L_c| / sum |M_k ∪ L_c|``;
4. the channel's **label** is its best concept; it counts as a **detector** when that
   IoU exceeds ``DETECTOR_IOU = 0.04`` (Bau's cut), and a layer's number of
   **unique detectors** is the number of different concepts its detectors name.

With a fixed ``top``, a channel that marks a concept covering a share ``f`` of all
pixels perfectly scores ``top / f`` when ``f > top`` (its mask is a subset of the
concept's), so the rule's IoUs are comparable between channels, not between
concepts of different sizes. ``top`` may also be given per channel.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import IDENTITY, Layers, check_images, forward_to, normalize, resolve_layer

BAU_TOP = 0.005
DETECTOR_IOU = 0.04


@dataclass
class Dissection:
    """One layer's dissection.

    Attributes:
        layer: the layer's name; concepts: the concept names.
        top: the top quantile used per channel; thresholds: ``T_k``.
        iou: IoU of every channel with every concept.

    Shapes:
        top, thresholds ``(C,)``; iou ``(C, K)``.
    """

    layer: str
    concepts: tuple[str, ...]
    top: torch.Tensor
    thresholds: torch.Tensor
    iou: torch.Tensor

    @property
    def best(self) -> torch.Tensor:
        """Index of each channel's best concept. Shapes: ``(C,)``."""
        return self.iou.argmax(dim=1)

    @property
    def best_iou(self) -> torch.Tensor:
        """Each channel's best IoU. Shapes: ``(C,)``."""
        return self.iou.amax(dim=1)

    def label(self, channel: int) -> tuple[str, float]:
        """The channel's best concept and its IoU."""
        return self.concepts[int(self.best[channel])], float(self.best_iou[channel])

    def detectors(self, min_iou: float = DETECTOR_IOU) -> dict[int, str]:
        """``{channel: concept}`` for the channels whose best IoU exceeds ``min_iou``."""
        return {k: self.concepts[int(self.best[k])]
                for k in range(len(self.best)) if float(self.best_iou[k]) > min_iou}

    def unique_detectors(self, min_iou: float = DETECTOR_IOU) -> int:
        """How many different concepts this layer's detectors name."""
        return len(set(self.detectors(min_iou).values()))


def thresholds(acts: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """Per channel, the value ``T`` with a share ``top`` of the activations above it.

    ``T`` is the ``ceil((1 - top) * M)``-th smallest of the channel's ``M`` values
    (``kthvalue``, one call per distinct rank).

    Shapes:
        acts: ``(N, C, h, w)``; top: ``(C,)``; returns ``(C,)``.
    """
    flat = acts.transpose(0, 1).reshape(acts.shape[1], -1)  # (C, M)
    m = flat.shape[1]
    ranks = torch.ceil((1 - top) * m).long().clamp(1, m)  # (C,)
    out = torch.empty(flat.shape[0], dtype=flat.dtype)
    for r in ranks.unique().tolist():
        rows = ranks == r
        out[rows] = flat[rows].kthvalue(r, dim=1).values
    return out


def iou_counts(acts: torch.Tensor, masks: torch.Tensor, t: torch.Tensor,
               chunk: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Intersections and unions of the thresholded, upsampled maps with every concept.

    Shapes:
        acts: ``(N, C, h, w)``; masks: ``(N, K, S, S)`` bool; t: ``(C,)``;
        returns intersection and union ``(C, K)`` (float64 counts).
    """
    n, c = acts.shape[:2]
    k, size = masks.shape[1], masks.shape[-2:]
    inter = torch.zeros(c, k, dtype=torch.float64)
    area_m, area_l = torch.zeros(c, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
    for i in range(0, n, chunk):
        up = F.interpolate(acts[i:i + chunk], size=size, mode="bilinear", align_corners=False)
        on = (up > t.view(1, c, 1, 1)).flatten(2).float()  # (n, C, S*S)
        lab = masks[i:i + chunk].to(on.device).flatten(2).float()  # (n, K, S*S), maps' device
        inter += torch.bmm(on, lab.transpose(1, 2)).sum(dim=0).double()  # (C, K)
        area_m += on.sum(dim=(0, 2)).double()
        area_l += lab.sum(dim=(0, 2)).double()
    return inter, area_m[:, None] + area_l[None, :] - inter


def dissect_acts(acts: torch.Tensor, masks: torch.Tensor, concepts: Sequence[str], layer: str = "",
                 top: float | torch.Tensor = BAU_TOP) -> Dissection:
    """Dissect a layer from its activations over an image set (see the module's steps).

    Shapes:
        acts: ``(N, C, h, w)``; masks: ``(N, K, S, S)`` bool.
    """
    if acts.ndim != 4:
        raise ValueError(f"layer {layer} outputs shape {tuple(acts.shape)}: it has no spatial "
                         f"extent (N, C, h, w) to compare with pixel masks")
    if acts.shape[0] == 0:
        raise ValueError("the image set is empty: give at least one image")
    if masks.shape[0] != acts.shape[0] or masks.shape[1] != len(concepts):
        raise ValueError(f"masks {tuple(masks.shape)} must be (N={acts.shape[0]}, "
                         f"K={len(concepts)}, S, S)")
    c = acts.shape[1]
    top_t = torch.as_tensor(top, dtype=torch.float64).expand(c).clone()
    if not bool(((top_t > 0) & (top_t < 1)).all()):
        raise ValueError(f"top must lie in (0, 1), got {top}")
    t = thresholds(acts.float(), top_t)
    inter, union = iou_counts(acts.float(), masks, t)
    return Dissection(layer=layer, concepts=tuple(concepts), top=top_t, thresholds=t,
                      iou=(inter / union.clamp(min=1)).float())


@torch.no_grad()
def dissect(model: nn.Module, layers: Layers, which: Sequence[int | str], images: torch.Tensor,
            masks: torch.Tensor, concepts: Sequence[str], *, top: float = BAU_TOP,
            mean: Sequence[float] = IDENTITY[0], std: Sequence[float] = IDENTITY[1],
            batch_size: int = 100) -> dict[str, Dissection]:
    """Dissect several layers of ``model`` with one forward pass per chunk of images.

    Args:
        model, layers: the network and its ``(name, module)`` layers.
        which: the layers to dissect (indices or names).
        images: ``(N, 3, S, S)`` in [0, 1]; masks: ``(N, K, S, S)`` bool, one per concept.
        concepts: the K concept names; top: the top quantile (Bau: 0.005).
        mean, std: the model's input normalization.

    Raises:
        ValueError: an empty image set, a layer without spatial extent, masks of the wrong shape.
        IndexError / KeyError: a layer out of range or unknown.

    Shapes:
        returns ``{layer name: Dissection}`` with ``iou (C, K)``.
    """
    check_images(images)
    chosen = [resolve_layer(layers, w) for w in which]
    if not chosen:
        raise ValueError("no layer to dissect")
    modules = {name: module for _, name, module in sorted(chosen)}
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in modules}
    for i in range(0, images.shape[0], batch_size):
        x = normalize(images[i:i + batch_size].to(device), mean, std)
        for name, a in forward_to(model, modules, x).items():
            parts[name].append(a.float().cpu())
    return {name: dissect_acts(torch.cat(parts[name]), masks, concepts, name, top)
            for name in modules}
