"""Pictures of an explanation: the one path from an :class:`Explanation` to pixels.

A figure cell and the CAM explorer both draw a result with :func:`heat_of` (the
colour rows of the map at the size it is shown) and :func:`helpers.draw.viz.blend`:
the layer map goes through :func:`helpers.explanation.upsampled` once, straight to
the pixels it covers (bilinear, min-max, as ``Explanation.maps`` is made), so the
explorer and the figures show the same pixels. An attribution (a map at the input's
size) is resampled the same way when the box differs from the input.

Introduced in notebooks/09_2_1_cam (the overlay of a CAM on the crop the model saw).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..explanation import Explanation, upsampled
from .viz import WHITE, blend, colour_index, draw_frame


def heat_of(res: Explanation, size: tuple[int, int], i: int = 0,
            shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Colour rows of image ``i``'s map shown at ``size = (w, h)`` pixels (PIL order).

    A CAM's layer map ``ReLU(raws[i])`` (``(h, w)`` at the layer's resolution) is
    upsampled straight to ``size``; a map without one (an attribution) is resampled
    from ``maps[i]``. ``shift = (dy, dx)`` is in the model input's pixels (the size of
    ``maps``, where :func:`helpers.cam.erf.erf_offset` measures), scaled to ``size``
    for :func:`helpers.explanation.upsampled` (default: none).

    Shapes:
        returns ``(h, w)`` uint8, rows of :func:`helpers.draw.viz.colormap_lut`.
    """
    w, h = size
    if res.raws is not None and res.raws.ndim == 3:  # (N, h, w): a layer map
        m = res.raws[i:i + 1].float().clamp(min=0)
    else:  # (N, H, W) in [0, 1] at the input's size
        m = torch.as_tensor(np.asarray(res.maps[i:i + 1]))
    in_h, in_w = np.shape(res.maps)[-2:]  # the model input's size
    box_shift = (shift[0] * h / in_h, shift[1] * w / in_w)  # input pixels -> shown pixels
    return colour_index(upsampled(m, (h, w), box_shift)[0])


def overlay_explanation(image: Image.Image, res: Explanation, i: int = 0,
                        box: tuple[int, int, int, int] | None = None, alpha: float = 0.7,
                        cmap: str = "jet", outline: tuple[int, int, int] | None = (WHITE,) * 3,
                        shift: tuple[float, float] = (0.0, 0.0)) -> Image.Image:
    """Lay image ``i``'s map over ``box`` of a photo (the whole photo for ``box=None``).

    With ``box = bundle.crop_box(image.size)`` the map lands where the model looked;
    ``outline`` then frames the box (``None``: no frame; never drawn for ``box=None``).
    ``shift``: see :func:`heat_of` (in the model input's pixels).

    Shapes:
        image: any size; box: ``(left, top, right, bottom)``.
    """
    full = box is None
    left, top, right, bottom = (0, 0, *image.size) if full else box
    if not (0 <= left < right <= image.width and 0 <= top < bottom <= image.height):
        raise ValueError(f"box {box} does not lie inside the image of size {image.size}")
    pixels = np.array(image.convert("RGB"))  # (H, W, 3) uint8, a copy
    crop = pixels[top:bottom, left:right].astype(np.float32)
    idx = heat_of(res, (right - left, bottom - top), i, shift)
    pixels[top:bottom, left:right] = blend(crop, idx, alpha, cmap)
    if outline is not None and not full:
        draw_frame(pixels, (left, top, right, bottom), outline)
    return Image.fromarray(pixels)
