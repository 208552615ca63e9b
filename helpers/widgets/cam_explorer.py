"""The class / layer / alpha explorer of CAM and Grad-CAM (section 9.2).

Each map is computed once per (image, method, layer, class) and cached, so
changing the photo weight ``alpha`` or the colormap only redraws (PIL, no
matplotlib figure), and changing the class or the layer costs at most one
forward and one backward pass. The map is laid over the region of the photo
that the model saw (``bundle.crop_box``), not stretched over the whole photo,
with the same engine as :func:`helpers.viz.overlay_box`: the layer's ReLU map
``raw`` is upsampled once (bicubic, :func:`helpers.viz.heat_index`) straight to
the box's pixels, and :func:`helpers.viz.blend` mixes it with the photo.

Example::

    from helpers import load_model, widgets
    explorer = widgets.cam_explorer(load_model("resnet18"), "cat_and_cup")
    explorer  # displays the widget; explorer.class_name.value = "cup" drives it from code

Introduced in notebooks/09_2_1_cam and notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

import difflib
import html
from collections import OrderedDict
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch
from PIL import Image

from .. import cam, viz
from ..models import ModelBundle
from .base import Explorer
from .common import ImagePicker

METHODS = (("Grad-CAM", "gradcam"), ("CAM", "cam"))
COLORMAPS = ("jet", "turbo", "viridis", "inferno", "magma")
CACHE_SIZE = 64  # maps kept (each about 0.2 MB)
TOP_CLASSES = 5  # classes offered in the dropdown, by probability


@dataclass
class Photo:
    """One photo as the explorer holds it; a new photo replaces the whole object.

    Attributes:
        image_id: a counter, part of every cache key.
        x: the model's input.
        pixels: the photo scaled to the display width.
        box: ``(left, top, right, bottom)`` of the centre crop the model saw, in ``pixels``.
        crop: ``pixels`` inside ``box``, as float for the blend.
        probs: softmax over the classes (``None`` until the first map is computed).

    Shapes:
        x: ``(1, 3, 224, 224)``; pixels: ``(H, W, 3)`` uint8; crop: ``(bh, bw, 3)`` float32.
    """

    image_id: int
    x: torch.Tensor
    pixels: np.ndarray
    box: tuple[int, int, int, int]
    crop: np.ndarray
    probs: torch.Tensor | None = None


def display_box(box: tuple[int, int, int, int], scale: float,
                size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` scaled by ``scale``, kept inside ``size = (w, h)`` and at least 1x1 pixel."""
    left, top, right, bottom = (round(v * scale) for v in box)
    left, top = min(max(0, left), size[0] - 1), min(max(0, top), size[1] - 1)
    return left, top, min(size[0], max(right, left + 1)), min(size[1], max(bottom, top + 1))


class CamExplorer(Explorer):
    """State and widgets of the CAM / Grad-CAM explorer; display it or drive it from code.

    Attributes:
        method: ``ToggleButtons``, ``"gradcam"`` or ``"cam"`` (CAM only when the
            model's head is global average pooling + one linear layer, i.e.
            ``bundle.classifier_weight`` is not None; otherwise ``method_note`` says why).
        classes: ``Dropdown`` of class indices: the ``TOP_CLASSES`` most probable, plus
            any class chosen by name.
        class_name: ``Combobox`` to type any of the 1000 class names (Enter);
            an unknown name shows a message in ``message`` and changes nothing.
        layer: ``Dropdown`` of ``bundle.feature_layers`` names, the Grad-CAM target
            (CAM always uses ``bundle.cam_layer_name``).
        alpha: ``FloatSlider``, the photo's weight in the blend.
        cmap: ``Dropdown`` of colormaps.
        picker: the :class:`ImagePicker` (sample dropdown + upload).
        photo: the :class:`Photo` shown now (``probs`` is ``photo.probs``).
        image_widget: the ``ipywidgets.Image`` drawn into; info: an ``HTML`` line.
        cache: ``{(image id, method, layer, class): CamResult}``, the last
            ``CACHE_SIZE`` maps used.
        passes: how many maps were computed (one forward, plus one backward for Grad-CAM).
        widget: the whole UI (a ``VBox``).

    Shapes:
        each cached ``cam``: ``(224, 224)``; the picture is the photo scaled to at
        most ``width`` pixels on its long side, with the map inside the crop box.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        image: Image.Image | str = "cat_and_cup",
        *,
        method: str = "gradcam",
        layer: str | None = None,
        alpha: float = 0.5,
        cmap: str = "jet",
        width: int = 384,
    ) -> None:
        super().__init__()
        self.bundle = bundle
        self.has_cam = bundle.classifier_weight is not None
        self.layer_names = [name for name, _ in bundle.feature_layers]
        if bundle.gradcam_layer_name not in self.layer_names:
            self.layer_names.append(bundle.gradcam_layer_name)
        if method not in ("gradcam", "cam"):
            raise ValueError(f"method must be 'gradcam' or 'cam', got {method!r}")
        if method == "cam" and not self.has_cam:
            method = "gradcam"
        layer = layer or bundle.gradcam_layer_name
        if layer not in self.layer_names:
            raise ValueError(f"layer {layer!r} is not one of bundle.feature_layers")
        self.width = width
        self.cache: OrderedDict[tuple, cam.CamResult] = OrderedDict()
        self._heat: OrderedDict[tuple, np.ndarray] = OrderedDict()  # same keys as cache
        self.passes = 0
        self._image_count = 0
        wide = {"description_width": "initial"}
        self.method = W.ToggleButtons(options=list(METHODS) if self.has_cam else [METHODS[0]],
                                      value=method, description="方法", style=wide)
        self.method_note = W.HTML("" if self.has_cam else (
            f"CAM 不可用：{html.escape(bundle.name)} 的分类头不是“全局平均池化 + 一个全连接层”，"
            "没有可以直接使用的类权重 W，所以这里只能用 Grad-CAM。"))
        self.classes = W.Dropdown(description="类别", style=wide)
        self.class_name = W.Combobox(placeholder="输入任意类别名（英文），按回车",
                                     options=list(bundle.categories), ensure_option=False,
                                     continuous_update=False, description="其他类别", style=wide)
        self.layer = W.Dropdown(options=self.layer_names, value=layer, description="目标层",
                                style=wide)
        self.alpha = W.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05, readout_format=".2f",
                                   description="照片权重 α", style=wide)
        self.cmap = W.Dropdown(options=list(COLORMAPS), value=cmap if cmap in COLORMAPS else "jet",
                               description="颜色表", style=wide)
        self.message = W.HTML()
        self.info = W.HTML()
        self.image_widget = W.Image(format="png", width=width)
        self.picker = ImagePicker(image, self._on_image)
        self._load(self.picker.image)
        self.method.observe(self._on_method, names="value")
        self.classes.observe(self._on_class, names="value")
        self.class_name.observe(self._on_class_name, names="value")
        for w in (self.layer, self.alpha, self.cmap):
            w.observe(self._redraw, names="value")
        self.widget = W.VBox([
            self.picker.box, W.HBox([self.method, self.method_note]),
            W.HBox([self.classes, self.class_name]), self.message,
            W.HBox([self.layer, self.alpha, self.cmap]), self.info, self.image_widget,
        ])
        self._sync_layer()
        self.render()

    # ------------------------------------------------------------ state ---

    def _load(self, image: Image.Image) -> None:
        """A new photo: its input, the scaled display photo and crop box, and the top-1 map.

        If the model fails on the photo, the previous :class:`Photo` stays and the error rises.
        """
        self._image_count += 1
        scale = min(1.0, self.width / max(image.size))
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC),
                            dtype=np.uint8)  # (H, W, 3)
        box = display_box(self.bundle.crop_box(image.size), scale, size)
        left, top, right, bottom = box
        old, self.photo = getattr(self, "photo", None), Photo(
            self._image_count, self.bundle.to_input(image), pixels, box,
            pixels[top:bottom, left:right].astype(np.float32))
        try:
            first = self.result(None)  # also gives the probabilities
        except Exception:
            if old is not None:
                self.photo = old
            raise
        self.photo.probs = first.probs
        self._set_classes(first.class_idx)

    @property
    def probs(self) -> torch.Tensor:
        """Softmax over the classes for the current photo. Shapes: ``(classes,)``."""
        return self.photo.probs

    def _key(self, class_idx: int | None) -> tuple:
        layer = self.bundle.cam_layer_name if self.method.value == "cam" else self.layer.value
        return (self.photo.image_id, self.method.value, layer, class_idx)

    def result(self, class_idx: int | None = None) -> cam.CamResult:
        """The map for the current image, method and layer; ``None`` means the top-1 class.

        Served from the cache when it is there; otherwise one forward pass (plus
        one backward pass for Grad-CAM).
        """
        key = self._key(class_idx)
        if class_idx is not None and key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        model = self.bundle.model
        if self.method.value == "cam":
            res = cam.class_weight_cam(model, self.bundle.cam_layer,
                                       self.bundle.classifier_weight, self.photo.x, class_idx)
        else:
            res = cam.grad_cam(model, self.layer.value, self.photo.x, class_idx)
        self.passes += 1
        self.cache[self._key(res.class_idx)] = res
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)  # the least recently used map
        return res

    def _label(self, k: int) -> str:
        return f"{self.bundle.categories[k]}（{float(self.probs[k]):.3f}）"

    def _set_classes(self, class_idx: int) -> None:
        """The top classes plus ``class_idx`` if it is not among them; select ``class_idx``."""
        top = [int(k) for k in self.probs.topk(TOP_CLASSES).indices]
        options = [(self._label(k), k) for k in top]
        if class_idx not in top:
            options.append((f"其他：{self._label(class_idx)}", class_idx))
        self.class_idx = class_idx
        with self.quiet():
            self.classes.options = options
            self.classes.value = class_idx

    def _sync_layer(self) -> None:
        self.layer.disabled = self.method.value == "cam"

    # --------------------------------------------------------- handlers ---

    def _on_image(self, image: Image.Image, label: str) -> None:
        try:
            self._load(image)
        except Exception as err:  # e.g. the model fails on this photo: the old one stays
            self.message.value = (f"<span style='color:#b00'>无法解释 {html.escape(label)}："
                                  f"{html.escape(str(err))}（仍显示上一张图片）</span>")
            return
        self.message.value = ""
        self.render()

    def _on_method(self, change: dict) -> None:
        self._sync_layer()
        self.render()

    def _on_class(self, change: dict) -> None:
        if not self._busy and change["new"] is not None:
            self.class_idx = int(change["new"])
            self.render()

    def _on_class_name(self, change: dict) -> None:
        self.select_class(change["new"])

    def select_class(self, name: str) -> bool:
        """Explain the class called ``name`` (any case); an unknown name only shows a message."""
        text = (name or "").strip()
        if not text:
            return False
        lookup = {c.lower(): k for k, c in enumerate(self.bundle.categories)}
        k = lookup.get(text.lower())
        if k is None:
            close = difflib.get_close_matches(text, self.bundle.categories, n=3, cutoff=0.6)
            hint = f"相近的类别：{'、'.join(close)}" if close else "请从下拉列表中选择一个类别名（英文）"
            self.message.value = (f"<span style='color:#b00'>没有名为 “{html.escape(text)}” 的类别。"
                                  f"{html.escape(hint)}（仍显示上一个类别）</span>")
            return False
        self.message.value = ""
        self._set_classes(k)
        self.render()
        return True

    # ----------------------------------------------------------- render ---

    def _heat_index(self, key: tuple) -> np.ndarray:
        """Colormap rows of the map ``ReLU(raw)`` shown in the box, cached per map.

        Shapes:
            returns ``(box height, box width)`` uint8.
        """
        res = self.result(key[-1])  # also keeps the map's cache entry fresh
        if key not in self._heat:
            left, top, right, bottom = self.photo.box
            self._heat[key] = viz.heat_index(res.raw.clamp(min=0), (right - left, bottom - top))
            while len(self._heat) > CACHE_SIZE:
                self._heat.popitem(last=False)
        return self._heat[key]

    def picture(self) -> Image.Image:
        """The photo with the current map blended into the region the model saw.

        The same picture as ``viz.overlay_box(photo, res.raw.clamp(min=0), box,
        alpha, cmap)``, with the colour rows of the map cached, so a change of
        ``alpha`` or colormap costs one blend.
        """
        idx = self._heat_index(self._key(self.class_idx))  # (bh, bw)
        left, top, right, bottom = box = self.photo.box
        out = self.photo.pixels.copy()  # (H, W, 3) uint8
        out[top:bottom, left:right] = viz.blend(self.photo.crop, idx, float(self.alpha.value),
                                                self.cmap.value)
        viz.draw_frame(out, box)
        return Image.fromarray(out)

    def describe(self) -> str:
        """The info line (plain text): method, layer and its map size, class, probability."""
        res = self.result(self.class_idx)
        method = dict((v, k) for k, v in METHODS)[self.method.value]
        layer = self.bundle.cam_layer_name if self.method.value == "cam" else self.layer.value
        h, w = res.raw.shape
        return (f"{method} · 层 {layer}（{h}×{w}）· 类别 {self._label(res.class_idx)}"
                f" · 白框：模型实际看到的中心裁剪区域")

    def summary(self) -> str:
        return f"CAM / Grad-CAM 浏览器：{self.bundle.name}（在 Jupyter 中选择类别、目标层和 α）"


def cam_explorer(bundle: ModelBundle, image: Image.Image | str = "cat_and_cup",
                 **options: object) -> CamExplorer:
    """Build the CAM / Grad-CAM explorer for one image (see :class:`CamExplorer`).

    Args:
        bundle: from :func:`helpers.load_model`.
        image: a sample name (``"cat_and_cup"``) or a PIL image.
        **options: ``method`` (``"gradcam"`` or ``"cam"``), ``layer``, ``alpha``,
            ``cmap``, ``width``.

    Shapes:
        each cached ``cam``: ``(H, W)`` of the model's input, 224 x 224.
    """
    return CamExplorer(bundle, image, **options)
