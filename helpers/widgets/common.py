"""Pieces shared by the explorers: an image picker with upload, fast PNG display, an LRU cache.

Explorers draw into an ``ipywidgets.Image`` with PNG bytes made by PIL, not
through matplotlib, so that a slider move only costs a colormap and a blend.

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

import html
import io
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import ipywidgets as W
import numpy as np
from PIL import Image

from ..images import ImageLoadError, list_images, load_image


WIDE = {"description_width": "initial"}  # a control's label is never cut


def alpha_slider(value: float) -> W.FloatSlider:
    """The photo-weight slider of every overlay (``alpha * photo + (1 - alpha) * heat``)."""
    return W.FloatSlider(value=value, min=0.0, max=1.0, step=0.05, readout_format=".2f",
                         description="照片权重 α", style=WIDE)


def to_png(picture: Image.Image | np.ndarray, width: int | None = None) -> bytes:
    """Encode a PIL image or an ``(H, W, 3)`` float array in [0, 1] as PNG bytes.

    ``width`` rescales (nearest neighbour, so feature-map pixels stay crisp).
    """
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(np.clip(picture * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if width is not None and picture.width != width:
        height = max(1, round(picture.height * width / picture.width))
        picture = picture.resize((width, height), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    picture.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class LRU(OrderedDict):
    """A dict that keeps only its ``size`` most recently used entries (the explorers' caches)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Hashable, value: Any) -> Any:
        """Store ``value`` as the newest entry, dropping the least recently used beyond ``size``."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value

    def fetch(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The entry for ``key`` (now the newest), made by ``make()`` when it is missing."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        return self.put(key, make())


def error_html(message: str) -> str:
    """A friendly error line for an explorer (escaped, dark red)."""
    return f"<span style='color:#b00'>{html.escape(message, quote=True)}</span>"


def upload_bytes(value: object) -> tuple[str, bytes] | None:
    """``(name, content)`` of the newest file in a ``FileUpload`` value, if any."""
    if not value:
        return None
    item = value[-1] if isinstance(value, (list, tuple)) else list(value.values())[-1]
    return item["name"], bytes(item["content"])


class ImagePicker:
    """A dropdown of the sample images plus an upload box for the student's own photo.

    A bad upload (not an image, corrupt, too large) shows a readable message and
    keeps the previous image. ``on_change(image, label)`` runs for each new image.
    """

    def __init__(self, image: Image.Image | str, on_change: Callable[[Image.Image, str], None]):
        self.on_change = on_change
        names = list_images()
        start = image if isinstance(image, str) and image in names else None
        self.dropdown = W.Dropdown(
            options=(["(当前图片)"] if start is None else []) + names,
            value=start or "(当前图片)", description="图片",
        )
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="上传照片")
        self.message = W.HTML()
        self.image = load_image(image) if isinstance(image, str) else image
        self.label = start or "image"
        self.dropdown.observe(self._on_dropdown, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.box = W.HBox([self.dropdown, self.upload, self.message])

    def _set(self, image: Image.Image, label: str) -> None:
        self.image, self.label = image, label
        self.message.value = ""
        self.on_change(image, label)

    def _on_dropdown(self, change: dict) -> None:
        if change["new"] in list_images():
            self._set(load_image(change["new"]), change["new"])

    def _on_upload(self, change: dict) -> None:
        item = upload_bytes(change["new"])
        if item is not None:
            self.load_upload(*item)

    def load_upload(self, name: str, content: bytes) -> bool:
        """Use uploaded bytes as the image; on failure show why and keep the old one."""
        try:
            image = load_image(content)
        except ImageLoadError as err:
            self.message.value = error_html(f"无法读取 {name}：{err}（仍显示上一张图片）")
            return False
        self._set(image, name)
        return True
