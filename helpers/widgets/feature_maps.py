"""The layer / channel / alpha explorer of every CNN layer's output (section 9.1).

One forward pass per image captures the output of every entry of
``bundle.feature_layers``; moving a slider only redraws into an
``ipywidgets.Image`` (PIL and a colour lookup table, no matplotlib), so a redraw
costs a few milliseconds.

Example::

    from helpers import load_model, widgets
    explorer = widgets.feature_map_explorer(load_model("vgg16_bn"), "cat")
    explorer  # displays the widget; explorer.layer.value = 3 drives it from code

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

import html
import math
from functools import lru_cache

import ipywidgets as W
import matplotlib
import numpy as np
import torch
from PIL import Image

from .. import hooks
from ..images import crop_box
from ..models import ModelBundle
from .common import ImagePicker, to_png

MODES = ("overlay", "grid16", "grid64")


@lru_cache(maxsize=4)
def colormap_lut(cmap: str = "jet") -> np.ndarray:
    """A matplotlib colormap as a 256-entry RGB lookup table.

    Shapes:
        returns ``(256, 3)`` uint8.
    """
    rgb = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))[..., :3]  # RGB, not G, B, A
    return np.round(rgb * 255.0).astype(np.uint8)


def colour_index(m: np.ndarray) -> np.ndarray:
    """Row of :func:`colormap_lut` for values in [0, 1], exactly as matplotlib picks it.

    Shapes:
        m: any shape; returns the same shape, uint8.
    """
    return np.minimum(m * 256.0, 255.0).astype(np.uint8)  # matplotlib: floor(x * N), N = 256


def prepare_maps(acts: np.ndarray) -> np.ndarray:
    """The textbook's ``showImg`` numbers for many channels at once: ReLU, min-max, square.

    Each channel is scaled on its own; a flat channel (for example all zero
    after ReLU) becomes all zeros, as in :func:`helpers.viz.normalize`.

    Shapes:
        acts: ``(K, h, w)``; returns ``(K, h, w)`` float32 in [0, 1].
    """
    a = np.maximum(np.asarray(acts, dtype=np.float32), 0.0)  # ReLU
    lo = a.min(axis=(1, 2), keepdims=True)  # (K, 1, 1)
    hi = a.max(axis=(1, 2), keepdims=True)  # (K, 1, 1)
    span = hi - lo
    flat = span <= 1e-12 * np.maximum(1.0, np.abs(hi))
    out = (a - lo) / np.where(flat, 1.0, span)
    out[np.broadcast_to(flat, out.shape)] = 0.0
    return out**2  # squaring suppresses weak responses


def rank_channels(acts: torch.Tensor | np.ndarray) -> np.ndarray:
    """Channel indices ordered by mean activation after ReLU, largest first (stable).

    Shapes:
        acts: ``(C, h, w)``; returns ``(C,)`` int64.
    """
    a = acts.detach().float().cpu().numpy() if isinstance(acts, torch.Tensor) else np.asarray(acts)
    means = np.maximum(a, 0.0).reshape(a.shape[0], -1).mean(axis=1)  # (C,)
    return np.argsort(-means, kind="stable")


def tile_channels(maps: np.ndarray, ncols: int = 8, lut: np.ndarray | None = None) -> np.ndarray:
    """Colour prepared maps with a lookup table and tile them with 1-pixel white gaps.

    Shapes:
        maps: ``(K, h, w)`` in [0, 1]; returns ``(rows*(h+1)-1, ncols*(w+1)-1, 3)`` uint8.
    """
    lut = colormap_lut() if lut is None else lut
    k, h, w = maps.shape
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    rgb = np.take(lut, colour_index(maps), axis=0)  # (K, h, w, 3)
    grid = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1, 3), 255, dtype=np.uint8)
    for i in range(k):
        r, c = divmod(i, ncols)
        grid[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = rgb[i]
    return grid


class FeatureMapExplorer:
    """State and widgets of the feature-map explorer; display it or drive it from code.

    Attributes:
        layer, channel, alpha: ``IntSlider``, ``IntSlider``, ``FloatSlider``. The
            channel slider's maximum follows the layer's channel count. With
            ``order.value == "active"`` the channel slider is a rank (0 = the
            most active channel); :meth:`current_channel` gives the channel index.
        mode: ``"overlay"`` (one channel over the photo, ``alpha`` = photo
            weight), ``"grid16"`` or ``"grid64"`` (the first channels in order).
        order: ``"index"`` or ``"active"`` (mean activation after ReLU, descending).
        picker: the :class:`ImagePicker` (sample dropdown + upload).
        image_widget: the ``ipywidgets.Image`` the picture is drawn into.
        info: an ``HTML`` line with the layer's name, type and output shape.
        acts: ``{layer name: (1, C, h, w) CPU tensor}`` for the current image.
        widget: the whole UI (a ``VBox``).

    Shapes:
        acts[name]: ``(1, C, h, w)``; the photo shown is the centre crop the
        model saw, drawn at ``size x size`` pixels and shown ``width`` pixels wide
        (the browser scales it; a smaller PNG keeps a redraw fast).
    """

    def __init__(
        self,
        bundle: ModelBundle,
        image: Image.Image | str = "cat",
        *,
        layer: int | None = None,
        channel: int = 0,
        alpha: float = 0.7,
        mode: str = "overlay",
        order: str = "active",
        width: int = 384,
        size: int = 256,
    ) -> None:
        self.bundle = bundle
        self.names = [name for name, _ in bundle.feature_layers]
        self.modules = [module for _, module in bundle.feature_layers]
        if not self.names:
            raise ValueError("bundle.feature_layers is empty")
        self.width, self.size = width, size
        self.forward_passes = 0
        self.renders = 0
        self._busy = False
        last = len(self.names) - 1
        wide = {"description_width": "initial"}
        self.layer = W.IntSlider(value=last if layer is None else layer, min=0, max=last,
                                 description="层", style=wide)
        self.channel = W.IntSlider(value=0, min=0, max=0, description="通道", style=wide)
        self.alpha = W.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05, readout_format=".2f",
                                   description="照片权重 α", style=wide)
        self.mode = W.ToggleButtons(options=[("单通道叠加到照片", "overlay"),
                                             ("前 16 个通道", "grid16"), ("前 64 个通道", "grid64")],
                                    value=mode)
        self.order = W.Dropdown(options=[("按平均激活从大到小", "active"), ("按通道编号", "index")],
                                value=order, description="通道顺序", style=wide)
        self.info = W.HTML()
        self.image_widget = W.Image(format="png", width=width)
        jet = matplotlib.colormaps["jet"](np.linspace(0.0, 1.0, 256))[..., :3]  # RGB
        self._lut = (jet * 255.0).astype(np.float32)  # (256, 3), unrounded for the blend
        self.picker = ImagePicker(image, self._on_image)
        self._load(self.picker.image)
        self._sync_channel_bounds()
        self.channel.value = min(max(channel, 0), self.channel.max)
        for w, handler in ((self.layer, self._on_layer), (self.channel, self._redraw),
                           (self.alpha, self._redraw), (self.mode, self._redraw),
                           (self.order, self._on_order)):
            w.observe(handler, names="value")
        self.widget = W.VBox([
            self.picker.box,
            W.HBox([self.layer, self.channel, self.alpha]),
            W.HBox([self.mode, self.order]),
            self.info, self.image_widget,
        ])
        self.render()

    # ------------------------------------------------------------ state ---

    def _load(self, image: Image.Image) -> None:
        """The one forward pass per image: every layer's output, and the photo crop."""
        x = self.bundle.to_input(image)  # (1, 3, 224, 224)
        acts = hooks.capture_activations(self.bundle.model, x, self.bundle.feature_layers)
        self.forward_passes += 1
        bad = {n: tuple(a.shape) for n, a in acts.items() if a.ndim != 4}
        if bad:
            raise ValueError(f"feature layers must output (N, C, h, w), got {bad}")
        self.acts = {n: acts[n].float().cpu() for n in self.names}  # (1, C, h, w)
        self._ranks: dict[str, np.ndarray] = {}
        crop = image.crop(crop_box(image.size)).resize((self.size, self.size),
                                                        Image.Resampling.BICUBIC)
        self._photo = np.asarray(crop, dtype=np.float32)  # (S, S, 3) in 0..255
        self._scaled: tuple[float | None, np.ndarray] = (None, self._photo)

    def _sync_channel_bounds(self) -> None:
        c = self.acts[self.layer_name].shape[1]
        self._busy = True
        try:
            self.channel.max = c - 1  # the slider clamps its value when the maximum drops
            self.channel.disabled = c == 1
        finally:
            self._busy = False

    @property
    def layer_name(self) -> str:
        return self.names[self.layer.value]

    def ranks(self, name: str | None = None) -> np.ndarray:
        """Channel order (most active first) of a layer, cached per image. Shapes: ``(C,)``."""
        name = name or self.layer_name
        if name not in self._ranks:
            self._ranks[name] = rank_channels(self.acts[name][0])
        return self._ranks[name]

    def _channel_at(self, position: int, order: str) -> int:
        return int(self.ranks()[position]) if order == "active" else position

    def current_channel(self) -> int:
        """The channel index shown in overlay mode (the slider is a rank under ``"active"``)."""
        return self._channel_at(self.channel.value, self.order.value)

    def channels_shown(self) -> list[int]:
        """Channel indices the current mode draws, in drawing order."""
        if self.mode.value == "overlay":
            return [self.current_channel()]
        c = self.acts[self.layer_name].shape[1]
        n = min(c, 16 if self.mode.value == "grid16" else 64)
        order = self.ranks() if self.order.value == "active" else np.arange(c)
        return [int(k) for k in order[:n]]

    # --------------------------------------------------------- handlers ---

    def _on_image(self, image: Image.Image, label: str) -> None:
        self._load(image)
        self.render()

    def _on_layer(self, change: dict) -> None:
        self._sync_channel_bounds()
        self.render()

    def _on_order(self, change: dict) -> None:
        # Keep the same channel on screen: move the slider to its place in the new order.
        k = self._channel_at(self.channel.value, change["old"])
        position = int(np.flatnonzero(self.ranks() == k)[0]) if change["new"] == "active" else k
        self._busy = True
        try:
            self.channel.value = position
        finally:
            self._busy = False
        self.render()

    def _redraw(self, change: dict) -> None:
        if not self._busy:
            self.render()

    # ----------------------------------------------------------- render ---

    def picture(self) -> np.ndarray:
        """The current picture. Shapes: returns ``(H, W, 3)`` uint8."""
        a = self.acts[self.layer_name][0].numpy()  # (C, h, w)
        channels = self.channels_shown()
        if self.mode.value == "overlay":
            m = prepare_maps(a[channels])[0]  # (h, w)
            big = Image.fromarray(m).resize((self.size, self.size), Image.Resampling.BICUBIC)
            big = np.clip(np.asarray(big), 0.0, 1.0)  # (S, S); bicubic overshoot clipped
            idx = colour_index(big)  # (S, S)
            alpha = float(self.alpha.value)
            if self._scaled[0] != alpha:  # alpha * photo, kept until alpha changes
                self._scaled = (alpha, alpha * self._photo + 0.5)
            heat = np.take((1.0 - alpha) * self._lut, idx, axis=0)  # (S, S, 3)
            return (self._scaled[1] + heat).astype(np.uint8)  # alpha*photo + (1-alpha)*heat
        grid = tile_channels(prepare_maps(a[channels]), ncols=4 if len(channels) <= 16 else 8)
        h, w = grid.shape[:2]
        height = max(1, round(h * self.width / w))
        method = Image.Resampling.BOX if w > self.width else Image.Resampling.NEAREST
        return np.asarray(Image.fromarray(grid).resize((self.width, height), method))

    def describe(self) -> str:
        """The info line: layer, type, output shape and what is shown (plain text)."""
        name = self.layer_name
        module = self.modules[self.layer.value]
        shape = tuple(self.acts[name].shape)
        head = (f"层 {self.layer.value}/{len(self.names) - 1} {name}（{type(module).__name__}）"
                f"· 输出形状 {shape}")
        a = self.acts[name][0]
        if self.mode.value == "overlay":
            k = self.current_channel()
            mean = float(a[k].clamp(min=0).mean())
            rank = int(np.flatnonzero(self.ranks() == k)[0]) + 1
            dead = "，ReLU 后全为 0（没有提取到特征）" if float(a[k].max()) <= 0 else ""
            return (f"{head} · 通道 {k}：平均激活 {mean:.3f}，"
                    f"在 {shape[1]} 个通道中排第 {rank}{dead}")
        ordering = "平均激活最大的" if self.order.value == "active" else "编号最小的"
        return f"{head} · {ordering} {len(self.channels_shown())} 个通道（每格各自 min-max）"

    def render(self) -> bytes:
        """Redraw into ``image_widget`` and update ``info``; returns the PNG bytes."""
        self.alpha.disabled = self.mode.value != "overlay"
        png = to_png(Image.fromarray(self.picture()))
        self.image_widget.value = png
        self.info.value = html.escape(self.describe())
        self.renders += 1
        return png

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = (f"特征图浏览器：{self.bundle.name}，{len(self.names)} 层"
                              f"（在 Jupyter 中拖动滑块查看）")
        return data


def feature_map_explorer(
    bundle: ModelBundle, image: Image.Image | str = "cat", **options: object
) -> FeatureMapExplorer:
    """Build the explorer of every layer's output for one image (see :class:`FeatureMapExplorer`).

    Args:
        bundle: from :func:`helpers.load_model`; its ``feature_layers`` are the layers.
        image: a sample name (``"cat"``) or a PIL image.
        **options: ``layer``, ``channel``, ``alpha``, ``mode``, ``order``, ``width``
            (display width), ``size`` (pixels of the photo overlay).

    Shapes:
        each cached activation: ``(1, C, h, w)``.
    """
    return FeatureMapExplorer(bundle, image, **options)
