"""The one colouring engine: colormap tables, the textbook's channel maps, blends and grids.

Every picture of a map, static or in an explorer, goes through the same steps,
written once here: :func:`colormap_lut` (a cached 256-row table),
:func:`colour_index` (a value's row, as matplotlib picks it), :func:`heat_index`
(min-max, :func:`upsample`, index), :func:`blend` (photo and heat) and :func:`tile`.
They draw numbers that ``cam``/``hooks``/``text`` computed and know no widget.

Errata fixed here (textbook code of section 9.1):
* ``matplotlib.cm.get_cmap`` was removed in Matplotlib 3.9: use
  ``matplotlib.colormaps[name]``.
* ``cmap(img)[:, :, 1:]`` keeps G, B and alpha; the RGB channels are ``[..., :3]``.
* PIL's ``resize`` takes ``(w, h)``, not ``(h, w)``.

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

import math
from functools import lru_cache

import matplotlib
import numpy as np
import torch
from PIL import Image

from ..arrays import minmax, to_numpy

ArrayLike = np.ndarray | torch.Tensor  # every map argument: numpy or torch, any device
LUT_SIZE = 256  # rows of a colormap table, as matplotlib's own colormaps
FRAME_WIDTH = 2  # pixels of the white frame around the region the model saw
GAP = 1  # pixels of white between the tiles of a grid
WHITE = 255


def normalize(m: ArrayLike) -> np.ndarray:
    """Min-max scale to [0, 1] (:func:`helpers.arrays.minmax`); a flat map becomes zeros.

    Shapes:
        m: any shape, e.g. ``(h, w)``; returns the same shape, float32.
    """
    return minmax(to_numpy(m))


def _check_2d(a: np.ndarray, what: str) -> None:
    if a.ndim != 2:
        raise ValueError(f"{what} expects a 2-D map (h, w), got shape {tuple(a.shape)}")


@lru_cache(maxsize=16)
def colormap_lut(cmap: str = "jet") -> np.ndarray:
    """A matplotlib colormap as a read-only table of ``LUT_SIZE`` RGB rows.

    Row ``i`` is the colour matplotlib gives a value ``x`` with ``colour_index(x) == i``.

    Shapes:
        returns ``(256, 3)`` float32 in 0..255 (not rounded: blends round once, at the end).

    Raises:
        ValueError: unknown colormap name.
    """
    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colormap {cmap!r}; try 'jet', 'viridis' or 'inferno'") from None
    lut = (colormap(np.linspace(0.0, 1.0, LUT_SIZE))[..., :3] * 255.0).astype(np.float32)
    lut.flags.writeable = False  # RGB, not G, B, A; shared by every caller
    return lut


def colour_index(m: np.ndarray) -> np.ndarray:
    """Row of :func:`colormap_lut` for values in [0, 1], exactly as matplotlib picks it.

    Values above 1 take the last row. Shapes: ``m`` any shape; returns the same shape, uint8.
    """
    return np.minimum(m * float(LUT_SIZE), LUT_SIZE - 1.0).astype(np.uint8)  # floor(x * N)


def colour(idx: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """RGB of table rows ``idx``, rounded. Shapes: ``idx`` ``S``; returns ``S + (3,)`` uint8."""
    return (np.take(colormap_lut(cmap), idx, axis=0) + 0.5).astype(np.uint8)


def upsample(m: ArrayLike, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D map bicubically to ``size = (w, h)`` (PIL order), as the textbook does.

    Bicubic overshoot is clipped to the map's own range.

    Shapes:
        m: ``(h0, w0)``; returns ``(h, w)`` float32.
    """
    a = to_numpy(m)
    _check_2d(a, "upsample")
    w, h = size
    if w < 1 or h < 1:
        raise ValueError(f"size must be positive (w, h), got {size}")
    out = np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    return np.clip(out, a.min(), a.max())


def heat_index(m: ArrayLike, size: tuple[int, int]) -> np.ndarray:
    """Table rows of a map shown at ``size = (w, h)`` pixels: min-max, upsample, index.

    The textbook's order (``showImg``, examples 9.2 and 9.3): scale to [0, 1] at
    the map's own resolution, then resize (overshoot clipped).

    Shapes:
        m: ``(h0, w0)``, any values; returns ``(h, w)`` uint8.
    """
    return colour_index(upsample(normalize(m), size))


def blend(photo: np.ndarray, idx: np.ndarray, alpha: float, cmap: str = "jet") -> np.ndarray:
    """``alpha * photo + (1 - alpha) * heat``, rounded: the one blend of every overlay.

    ``alpha`` is the photo's weight: 1 gives the photo, 0 the heat map alone;
    the textbook's example 9.1 blends 0.7 photo with 0.3 heat.

    Shapes:
        photo: ``(h, w, 3)`` in 0..255 (uint8 or float32); idx: ``(h, w)`` from
        :func:`heat_index`; returns ``(h, w, 3)`` uint8.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = np.take(colormap_lut(cmap), idx, axis=0)  # (h, w, 3) in 0..255
    return (alpha * photo + (1.0 - alpha) * heat + 0.5).astype(np.uint8)


def draw_frame(pixels: np.ndarray, box: tuple[int, int, int, int],
               rgb: tuple[int, int, int] = (WHITE, WHITE, WHITE)) -> None:
    """Paint a ``FRAME_WIDTH`` frame just inside ``box = (left, top, right, bottom)``, in place.

    Shapes:
        pixels: ``(H, W, 3)`` uint8.
    """
    left, top, right, bottom = box
    f = FRAME_WIDTH
    pixels[top:bottom, left:left + f] = pixels[top:bottom, right - f:right] = rgb
    pixels[top:top + f, left:right] = pixels[bottom - f:bottom, left:right] = rgb


def overlay(
    image: Image.Image, m: ArrayLike, alpha: float = 0.7, cmap: str = "jet"
) -> Image.Image:
    """Lay a coloured map over a photo: ``alpha * photo + (1 - alpha) * heat`` (:func:`blend`).

    Shapes:
        m: ``(h, w)``, any size: upsampled to the photo's ``(W, H)``.
    """
    photo = np.asarray(image.convert("RGB"), dtype=np.float32)  # (H, W, 3)
    return Image.fromarray(blend(photo, heat_index(m, image.size), alpha, cmap))


def overlay_box(
    image: Image.Image, m: ArrayLike, box: tuple[int, int, int, int], alpha: float = 0.7,
    cmap: str = "jet", outline: tuple[int, int, int] | None = (WHITE, WHITE, WHITE),
) -> Image.Image:
    """Lay a map over only the region ``box`` of a photo, e.g. the centre crop the model saw.

    With ``box = bundle.crop_box(image.size)`` the map lands where the model looked.
    ``outline`` draws a ``FRAME_WIDTH`` frame just inside the box (``None``: no frame).

    Shapes:
        m: ``(h, w)``, any size: upsampled to the box; ``box``: ``(left, top, right, bottom)``.

    Introduced in notebooks/09_2_1_cam.
    """
    left, top, right, bottom = box
    if not (0 <= left < right <= image.width and 0 <= top < bottom <= image.height):
        raise ValueError(f"box {box} does not lie inside the image of size {image.size}")
    pixels = np.array(image.convert("RGB"))  # (H, W, 3) uint8, a copy
    crop = pixels[top:bottom, left:right].astype(np.float32)
    pixels[top:bottom, left:right] = blend(crop, heat_index(m, (right - left, bottom - top)),
                                           alpha, cmap)
    if outline is not None:
        draw_frame(pixels, box, outline)
    return Image.fromarray(pixels)


def prepare_maps(acts: ArrayLike, square: bool = True) -> np.ndarray:
    """The textbook's ``showImg`` numbers for many channels at once: ReLU, min-max, square.

    Each channel is scaled on its own (a flat one becomes zeros); squaring
    suppresses weak responses so that the strongest stand out.

    Shapes:
        acts: ``(K, h, w)``; returns ``(K, h, w)`` float32 in [0, 1].
    """
    a = np.maximum(to_numpy(acts), 0.0)  # ReLU
    if a.ndim != 3:
        raise ValueError(f"prepare_maps expects (K, h, w), got shape {tuple(a.shape)}")
    out = minmax(a, dims=(1, 2))  # (K, h, w), each channel on its own
    return out**2 if square else out


def show_channel(acts: ArrayLike, cmap: str = "jet", square: bool = True) -> np.ndarray:
    """The textbook's ``showImg``, fixed: ReLU, min-max, optional squaring, colormap.

    Shapes:
        acts: ``(h, w)`` one channel; returns ``(h, w, 3)`` float32 RGB in [0, 1].
    """
    a = to_numpy(acts)
    _check_2d(a, "show_channel")
    idx = colour_index(prepare_maps(a[None], square)[0])  # (h, w)
    return np.take(colormap_lut(cmap), idx, axis=0) / np.float32(255.0)


def tile(pictures: np.ndarray, ncols: int = 8) -> np.ndarray:
    """Tile pictures row by row with ``GAP`` pixels of white between them.

    Shapes:
        pictures: ``(K, h, w, 3)`` uint8; returns ``(rows*(h+1)-1, ncols*(w+1)-1, 3)`` uint8.
    """
    k, h, w = pictures.shape[:3]
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    grid = np.full((nrows * (h + GAP) - GAP, ncols * (w + GAP) - GAP, 3), WHITE, dtype=np.uint8)
    for i in range(k):
        r, c = divmod(i, ncols)
        grid[r * (h + GAP): r * (h + GAP) + h, c * (w + GAP): c * (w + GAP) + w] = pictures[i]
    return grid


def channel_grid(
    acts: ArrayLike, channels: list[int] | None = None, ncols: int = 8, cmap: str = "jet"
) -> np.ndarray:
    """Several channels, each coloured as :func:`show_channel`, tiled into one picture.

    Args:
        acts: the layer's output.
        channels: which channels, in order; ``None`` means the first 16.
        ncols: tiles per row.
        cmap: the colormap.

    Shapes:
        acts: ``(C, h, w)`` (or ``(1, C, h, w)``); returns ``(rows*(h+1)-1, ncols*(w+1)-1, 3)`` uint8.
    """
    a = to_numpy(acts)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"channel_grid expects (C, h, w), got shape {tuple(a.shape)}")
    c = a.shape[0]
    channels = list(range(min(c, 16))) if channels is None else list(channels)
    bad = [k for k in channels if not (isinstance(k, (int, np.integer)) and 0 <= k < c)]
    if bad or not channels:
        raise IndexError(f"channels must be integers in [0, {c - 1}], got {bad or channels}")
    return tile(colour(colour_index(prepare_maps(a[channels])), cmap), ncols)
