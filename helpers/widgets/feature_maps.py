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

import ipywidgets as W
import numpy as np
import torch
from PIL import Image

from ..draw import viz
from ..models import ModelBundle
from .base import Explorer
from .channel_view import bundle_view
from .common import WIDE, ImagePicker, alpha_slider
from .feature_state import capture_state

GRID_SMALL, GRID_LARGE = 16, 64  # channels in the two grid modes
GRID_COLUMNS = {GRID_SMALL: 4, GRID_LARGE: 8}  # tiles per row
MODES = ("overlay", f"grid{GRID_SMALL}", f"grid{GRID_LARGE}")


def rank_channels(acts: torch.Tensor | np.ndarray) -> np.ndarray:
    """Channel indices ordered by mean activation after ReLU, largest first (stable).

    Shapes:
        acts: ``(C, h, w)``; returns ``(C,)`` int64.
    """
    a = viz.to_numpy(acts)
    means = np.maximum(a, 0.0).reshape(a.shape[0], -1).mean(axis=1)  # (C,)
    return np.argsort(-means, kind="stable")


class FeatureMapExplorer(Explorer):
    """State and widgets of the feature-map explorer; display it or drive it from code.

    Attributes:
        layer, channel, alpha: ``IntSlider``, ``IntSlider``, ``FloatSlider``. The
            channel slider's maximum follows the layer's channel count. With
            ``order.value == "active"`` the channel slider is a rank (0 = the
            most active channel); :meth:`current_channel` gives the channel index.
        mode: ``"overlay"`` (one channel over the photo, ``alpha`` = photo
            weight), ``"grid16"`` or ``"grid64"`` (the first ``GRID_SMALL`` or
            ``GRID_LARGE`` channels in order).
        order: ``"index"`` or ``"active"`` (mean activation after ReLU, descending).
        picker: the :class:`ImagePicker` (sample dropdown + upload).
        image_widget: the ``ipywidgets.Image`` the picture is drawn into.
        info: an ``HTML`` line with the layer's name, type and output shape.
        state: the :class:`.feature_state.ImageState` of the current photo (``acts`` is ``state.acts``).
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
        super().__init__()
        self.bundle = bundle
        self.names = [name for name, _ in bundle.feature_layers]
        self.modules = [module for _, module in bundle.feature_layers]
        if not self.names:
            raise ValueError("bundle.feature_layers is empty")
        self.width, self.size = width, size
        self.forward_passes = 0
        last = len(self.names) - 1
        self.layer = W.IntSlider(value=last if layer is None else layer, min=0, max=last,
                                 description="层", style=WIDE)
        self.channel = W.IntSlider(value=0, min=0, max=0, description="通道", style=WIDE)
        self.alpha = alpha_slider(alpha)
        self.mode = W.ToggleButtons(options=list(zip(
            ("单通道叠加到照片", f"前 {GRID_SMALL} 个通道", f"前 {GRID_LARGE} 个通道"), MODES)),
            value=mode)
        self.order = W.Dropdown(options=[("按平均激活从大到小", "active"), ("按通道编号", "index")],
                                value=order, description="通道顺序", style=WIDE)
        self.info = W.HTML()
        self.image_widget = W.Image(format="png", width=width)
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
        self.channel_view, panel = bundle_view(bundle, self)  # "what this channel sees", folded
        self.widget.children += (panel,)
        self.render()

    # ------------------------------------------------------------ state ---

    def _load(self, image: Image.Image) -> None:
        """The one forward pass per image (see :func:`capture_state`); replaces the state whole."""
        self.state = capture_state(self.bundle, image, self.size)
        self.forward_passes += 1

    @property
    def acts(self) -> dict[str, torch.Tensor]:
        """``{layer name: (1, C, h, w)}`` of the current photo."""
        return self.state.acts

    def _sync_channel_bounds(self) -> None:
        c = self.acts[self.layer_name].shape[1]
        with self.quiet():
            self.channel.max = c - 1  # the slider clamps its value when the maximum drops
            self.channel.disabled = c == 1

    @property
    def layer_name(self) -> str:
        return self.names[self.layer.value]

    def ranks(self, name: str | None = None) -> np.ndarray:
        """Channel order (most active first) of a layer, cached per image. Shapes: ``(C,)``."""
        name = name or self.layer_name
        ranks = self.state.ranks
        if name not in ranks:
            ranks[name] = rank_channels(self.acts[name][0])
        return ranks[name]

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
        n = min(c, GRID_SMALL if self.mode.value == MODES[1] else GRID_LARGE)
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
        with self.quiet():
            self.channel.value = position
        self.render()

    # ----------------------------------------------------------- render ---

    def picture(self) -> np.ndarray:
        """The current picture. Shapes: returns ``(H, W, 3)`` uint8."""
        a = self.acts[self.layer_name][0].numpy()  # (C, h, w)
        channels = self.channels_shown()
        if self.mode.value == "overlay":
            m = viz.prepare_maps(a[channels])[0]  # (h, w)
            idx = viz.heat_index(m, (self.size, self.size))  # (S, S)
            return viz.blend(self.state.photo, idx, float(self.alpha.value))
        grid = viz.channel_grid(a, channels, ncols=GRID_COLUMNS[GRID_SMALL if len(channels) <= GRID_SMALL
                                                                   else GRID_LARGE])
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
        """Redraw (see :meth:`Explorer.render`); alpha only matters in overlay mode."""
        self.alpha.disabled = self.mode.value != "overlay"
        if hasattr(self, "channel_view"):
            self.channel_view.show(self.layer.value, self.current_channel())  # draws only when open
        return super().render()

    def summary(self) -> str:
        return f"特征图浏览器：{self.bundle.name}，{len(self.names)} 层（在 Jupyter 中拖动滑块查看）"


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
