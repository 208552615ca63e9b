"""Top patches: the input regions that activate one channel most (Zeiler & Fergus 2014).

For a channel of a layer, every cell of its map over a set of images is a
candidate; a cell's patch is its receptive field cropped from the input (the
part of the field beyond the image is filled with grey). Within one image, a
cell counts only if it is the largest in its neighbourhood (half a receptive
field each way; the whole map when the field covers the whole image), so that
the ``k`` patches are not ``k`` shifted copies of one.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import images as photos
from .layers import (IDENTITY, Layers, ReceptiveField, check_channel, check_images, forward_to,
                     normalize, receptive_field, resolve_layer)

FILL = 0.5  # grey for the part of a receptive field beyond the image


@dataclass
class TopPatches:
    """The ``k`` strongest cells of one channel over an image set, with their patches.

    Attributes:
        layer, channel: what was ranked.
        values: the activation of each cell, largest first.
        patches: each cell's receptive field cropped from its image, in [0, 1].
        image_index: which image each patch comes from; cells: its ``(i, j)`` on the map.
        boxes: ``(top, left, bottom, right)`` in input pixels (may extend past the image).
        field: the layer's receptive field.

    Shapes:
        values ``(k,)``; patches ``(k, 3, s, s)`` with ``s = field.size``;
        image_index ``(k,)``; cells ``(k, 2)``.
    """

    layer: str
    channel: int
    values: torch.Tensor
    patches: torch.Tensor
    image_index: torch.Tensor
    cells: torch.Tensor
    boxes: list[tuple[int, int, int, int]]
    field: ReceptiveField


@torch.no_grad()
def layer_activations(model: nn.Module, layers: Layers, layer: int | str, images: torch.Tensor,
                      mean: Sequence[float] = IDENTITY[0], std: Sequence[float] = IDENTITY[1],
                      batch_size: int = 64) -> torch.Tensor:
    """One layer's output for every image, in chunks (the pass stops at the layer).

    Shapes:
        images: ``(N, 3, H, W)`` in [0, 1]; returns ``(N, C, h, w)`` on the CPU.
    """
    check_images(images)
    _, name, module = resolve_layer(layers, layer)
    device = next(model.parameters()).device
    out = [forward_to(model, {name: module}, normalize(images[i:i + batch_size].to(device), mean,
                                                         std))[name].float().cpu()
           for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out)


def crop_patch(image: torch.Tensor, box: tuple[int, int, int, int], fill: float = FILL) -> torch.Tensor:
    """Cut ``box = (top, left, bottom, right)`` out of ``image``; outside it is ``fill``.

    Shapes:
        image: ``(3, H, W)``; returns ``(3, bottom - top, right - left)``.
    """
    top, left, bottom, right = box
    h, w = image.shape[1:]
    out = torch.full((image.shape[0], bottom - top, right - left), fill, dtype=image.dtype)
    t, l, b, r = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    if b > t and r > l:
        out[:, t - top:b - top, l - left:r - left] = image[:, t:b, l:r]
    return out


def strongest_cells(acts: torch.Tensor, k: int, radius: int) -> list[tuple[float, int, int, int]]:
    """The ``k`` largest local maxima ``(value, n, i, j)`` of one channel, largest first.

    A cell is a local maximum when it equals the maximum of the ``(2 radius + 1)``-square
    around it in its own image; among equal values the earlier image and cell win.

    Shapes:
        acts: ``(N, h, w)``.
    """
    peaks = F.max_pool2d(acts[:, None], 2 * radius + 1, stride=1, padding=radius)[:, 0]  # (N, h, w)
    is_peak = acts >= peaks
    values = torch.where(is_peak, acts, torch.full_like(acts, -torch.inf)).flatten()
    order = torch.sort(values, descending=True, stable=True).indices[:k]
    h, w = acts.shape[1:]
    return [(float(values[f]), int(f) // (h * w), int(f) % (h * w) // w, int(f) % w)
            for f in order if torch.isfinite(values[f])]


def top_patches(model: nn.Module, layers: Layers, layer: int | str, channel: int,
                images: torch.Tensor, k: int = 9, *, mean: Sequence[float] = IDENTITY[0],
                std: Sequence[float] = IDENTITY[1], acts: torch.Tensor | None = None,
                field: ReceptiveField | None = None) -> TopPatches:
    """The ``k`` image patches that activate ``channel`` of ``layer`` most.

    Args:
        model, layers: the network and its ordered ``(name, module)`` layers.
        layer: index into ``layers`` or a name; channel: the channel index.
        images: the image set, in [0, 1] (normalized with ``mean``/``std`` for the model).
        k: how many patches.
        acts, field: the layer's activations over ``images`` and its receptive field,
            when already computed (the explorer caches them per layer).

    Raises:
        ValueError: an empty image set, or a layer without spatial extent.
        IndexError: a layer or channel out of range.

    Shapes:
        images ``(N, 3, H, W)``; acts ``(N, C, h, w)``; see :class:`TopPatches`.
    """
    check_images(images)
    _, name, _ = resolve_layer(layers, layer)
    if acts is None:
        acts = layer_activations(model, layers, layer, images, mean, std)
    check_channel(acts.shape[1], channel, name)
    if field is None:
        field = receptive_field(model, layers, layer, images.shape[-1], mean, std)
    # A field as large as the image gives the same patch at every cell: one per image then.
    radius = max(acts.shape[2:]) if field.size >= images.shape[-1] else field.size // (2 * field.stride)
    cells = strongest_cells(acts[:, channel], k, radius)
    boxes = [field.box(i, j) for _, _, i, j in cells]
    patches = torch.stack([crop_patch(images[n].cpu(), box) for (_, n, _, _), box in zip(cells, boxes)])
    return TopPatches(layer=name, channel=channel,
                      values=torch.tensor([v for v, *_ in cells]),
                      patches=patches,  # (k, 3, s, s)
                      image_index=torch.tensor([n for _, n, _, _ in cells]),
                      cells=torch.tensor([(i, j) for *_, i, j in cells]).reshape(-1, 2),
                      boxes=boxes, field=field)


def photo_batch(bundle, names: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """The course's photos as the model sees them (resize, centre crop), in [0, 1].

    Shapes:
        returns ``(N, 3, crop, crop)`` and the N sample names.
    """
    names = list(names or photos.list_images())
    x = torch.cat([bundle.to_input(photos.load_image(n)).cpu() for n in names])  # (N, 3, S, S)
    return normalize(x, [-m / s for m, s in zip(bundle.mean, bundle.std)],
                     [1 / s for s in bundle.std]), names
