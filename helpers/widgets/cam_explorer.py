"""The class / layer / alpha explorer of CAM and Grad-CAM (section 9.2).

Each map is computed once per (image, method, layer, class) and cached, so
changing the photo weight ``alpha`` or the colormap only redraws (PIL, no
matplotlib figure), and changing the class or the layer costs at most one
forward and one backward pass. The map is laid over the region of the photo
that the model saw (``bundle.crop_box``), not stretched over the whole photo,
through the figures' one path (:func:`helpers.draw.explain.heat_of`): the layer's ReLU map
``raw`` is upsampled once (:func:`helpers.explanation.upsampled`, bilinear) straight to
the box's pixels, and :func:`helpers.draw.viz.blend` mixes it with the photo. The
method menu lists every CAM method of :mod:`helpers.registry`, with its label
(:mod:`.cam_methods`: the menus and the one call of a map).

Example::

    from helpers import load_model, widgets
    explorer = widgets.cam_explorer(load_model("resnet18"), "cat_and_cup")
    explorer  # displays the widget; explorer.class_name.value = "cup" drives it from code

Introduced in notebooks/09_2_1_cam and notebooks/09_2_2_grad_cam.
"""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
import torch
from PIL import Image

from .. import cam
from ..draw import viz
from ..draw.explain import heat_of
from ..models import ModelBundle
from .base import Explorer
from .cam_methods import choose, compute, label, layer_names
from .classes import ClassPicker
from .common import LRU, WIDE, ImagePicker, alpha_slider, error_html
from .photo import display_photo

COLORMAPS = ("jet", "turbo", "viridis", "inferno", "magma")
CACHE_SIZE = 64  # maps kept (each about 0.2 MB)


class CamExplorer(Explorer):
    """State and widgets of the CAM / Grad-CAM explorer; display it or drive it from code.

    Attributes:
        method: ``Dropdown`` of ``"cam"`` and the names of :data:`helpers.cam.METHODS`
            (``"grad_cam"``, ``"grad_cam_pp"``, ...). CAM is offered only when the
            model's head is global average pooling + one linear layer, i.e.
            ``bundle.classifier_weight`` is not None; otherwise ``method_note`` says why.
        class_picker: the :class:`ClassPicker`; ``classes`` (its dropdown of the most
            probable classes), ``class_name`` (type any class name, Enter) and
            ``message`` are its widgets, ``class_idx`` its choice.
        layer: ``Dropdown`` of ``bundle.feature_layers`` names, the Grad-CAM target
            (CAM always uses ``bundle.cam_layer_name``).
        alpha: ``FloatSlider``, the photo's weight in the blend.
        cmap: ``Dropdown`` of colormaps.
        picker: the :class:`ImagePicker` (sample dropdown + upload).
        photo: the :class:`Photo` shown now (``probs`` is ``photo.probs``).
        image_widget: the ``ipywidgets.Image`` drawn into; info: an ``HTML`` line.
        cache: ``{(image id, method, layer, class): CamResult}``, the last
            ``CACHE_SIZE`` maps used; heat: the same keys, the map's colour rows in the box.
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
        method: str = "grad_cam",
        layer: str | None = None,
        alpha: float = 0.5,
        cmap: str = "jet",
        width: int = 384,
    ) -> None:
        super().__init__()
        self.bundle = bundle
        self.has_cam = bundle.classifier_weight is not None
        self.layer_names = layer_names(bundle)
        names, method, layer = choose(bundle, method, layer)
        self.width = width
        self.cache, self.heat = LRU(CACHE_SIZE), LRU(CACHE_SIZE)
        self.passes = 0
        self._image_count = 0
        self.method = W.Dropdown(options=[(label(n), n) for n in names], value=method,
                                 description="方法", style=WIDE)
        self.method_note = W.HTML("" if self.has_cam else (
            f"CAM 不可用：{html.escape(bundle.name)} 的分类头不是“全局平均池化 + 一个全连接层”，"
            "没有可以直接使用的类权重 W，所以这里只能用 Grad-CAM。"))
        self.class_picker = ClassPicker(bundle.categories, lambda k: self.render())
        picker = self.class_picker
        self.classes, self.class_name, self.message = picker.dropdown, picker.name, picker.message
        self.layer = W.Dropdown(options=self.layer_names, value=layer, description="目标层",
                                style=WIDE)
        self.alpha = alpha_slider(alpha)
        self.cmap = W.Dropdown(options=list(COLORMAPS), value=cmap if cmap in COLORMAPS else "jet",
                               description="颜色表", style=WIDE)
        self.info = W.HTML()
        self.image_widget = W.Image(format="png", width=width)
        self.picker = ImagePicker(image, self._on_image)
        self._load(self.picker.image)
        self.method.observe(self._on_method, names="value")
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
        old, self.photo = getattr(self, "photo", None), display_photo(
            self.bundle, image, self.width, self._image_count)
        try:
            first = self.result(None)  # also gives the probabilities
        except Exception:
            if old is not None:
                self.photo = old
            raise
        self.photo.probs = first.probs
        self.class_picker.show(first.probs, int(first.probs.argmax()) if first.class_idx is None
                               else first.class_idx)

    @property
    def probs(self) -> torch.Tensor:
        """Softmax over the classes for the current photo. Shapes: ``(classes,)``."""
        return self.photo.probs

    @property
    def class_idx(self) -> int:
        """The class explained now."""
        return self.class_picker.class_idx

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
            return self.cache.fetch(key, None)
        res = compute(self.bundle, self.method.value, self.layer.value, self.photo.x, class_idx)
        self.passes += 1
        if class_idx is None:  # Eigen-CAM's targets are None: file it under the top-1 class
            class_idx = res.class_idx if res.class_idx is not None else int(res.probs.argmax())
        return self.cache.put(self._key(class_idx), res)

    def _sync_layer(self) -> None:
        self.layer.disabled = self.method.value == "cam"

    # --------------------------------------------------------- handlers ---

    def _on_image(self, image: Image.Image, label: str) -> None:
        try:
            self._load(image)
        except Exception as err:  # e.g. the model fails on this photo: the old one stays
            self.message.value = error_html(f"无法解释 {label}：{err}（仍显示上一张图片）")
            return
        self.message.value = ""
        self.render()

    def _on_method(self, change: dict) -> None:
        self._sync_layer()
        self.render()

    def select_class(self, name: str) -> bool:
        """Explain the class called ``name`` (any case); an unknown name only shows a message."""
        return self.class_picker.select(name)

    # ----------------------------------------------------------- render ---

    def _heat_index(self, key: tuple) -> np.ndarray:
        """Colormap rows of the map ``ReLU(raw)`` shown in the box, cached per map.

        Shapes:
            returns ``(box height, box width)`` uint8.
        """
        res = self.result(key[-1])  # also keeps the map's cache entry fresh
        left, top, right, bottom = self.photo.box
        return self.heat.fetch(key, lambda: heat_of(res, (right - left, bottom - top)))

    def picture(self) -> Image.Image:
        """The photo with the current map blended into the region the model saw.

        The same picture as the figures' ``explain.overlay_explanation(photo, res,
        box=box, alpha=alpha, cmap=cmap)``, with the colour rows of the map cached, so a
        change of ``alpha`` or colormap costs one blend.
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
        method = label(self.method.value)
        layer = self.bundle.cam_layer_name if self.method.value == "cam" else self.layer.value
        h, w = res.raw.shape
        what = "不依赖类别" if res.class_idx is None else self.class_picker.label(res.class_idx)
        return (f"{method} · 层 {layer}（{h}×{w}）· 类别 {what}"
                f" · 白框：模型实际看到的中心裁剪区域")

    def summary(self) -> str:
        return f"CAM / Grad-CAM 浏览器：{self.bundle.name}（在 Jupyter 中选择类别、目标层和 α）"


def cam_explorer(bundle: ModelBundle, image: Image.Image | str = "cat_and_cup",
                 **options: object) -> CamExplorer:
    """Build the CAM / Grad-CAM explorer for one image (see :class:`CamExplorer`).

    Args:
        bundle: from :func:`helpers.load_model`.
        image: a sample name (``"cat_and_cup"``) or a PIL image.
        **options: ``method`` (``"cam"`` or a name in ``cam.METHODS``), ``layer``, ``alpha``,
            ``cmap``, ``width``.

    Shapes:
        each cached ``cam``: ``(H, W)`` of the model's input, 224 x 224.
    """
    return CamExplorer(bundle, image, **options)
