""""What this channel sees": top patches, feature visualization and dissection label of one channel.

:class:`ChannelView` is a panel that follows a layer and a channel chosen
elsewhere: the 9.1 feature-map explorer puts it in an accordion under its
picture, and :func:`channel_explorer` gives it sliders of its own (for the toy
nets, with their dissection). Per layer it caches the activations over its image
set and the receptive field (one forward and one backward pass, stated in the
caption while they run); a channel change then only crops, tiles and encodes.
Feature visualizations are computed on a button press and cached per channel.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

import ipywidgets as W
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ..draw import viz
from ..channels import fv, patches
from ..channels.dissect import DETECTOR_IOU, Dissection
from ..channels.layers import IDENTITY, Layers, check_channel, check_images, resolve_layer
from .base import Explorer
from .common import LRU, WIDE, to_png

PATCH_PX = 72  # each patch is drawn at this size, with its activation under it
LABEL_PX = 14


def patch_grid(tp: patches.TopPatches, ncols: int = 8, px: int = PATCH_PX) -> np.ndarray:
    """The patches in a row-major grid, each with its activation value written under it.

    Shapes:
        returns ``(rows * (px + LABEL_PX + 1) - 1, ncols * (px + 1) - 1, 3)`` uint8.
    """
    tiles = []
    for patch, value in zip(tp.patches, tp.values):
        rgb = (patch.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        tile = Image.new("RGB", (px, px + LABEL_PX), "white")
        tile.paste(Image.fromarray(rgb).resize((px, px), Image.Resampling.NEAREST), (0, 0))
        ImageDraw.Draw(tile).text((2, px + 1), f"{float(value):.2f}", fill="black")
        tiles.append(np.asarray(tile))
    return viz.tile(np.stack(tiles), ncols)


class ChannelView:
    """Top patches, feature visualization and (on the toy nets) dissection label of one channel.

    Args:
        model, layers: the network and its ``(name, module)`` layers.
        images: the image set for the top patches, in [0, 1]; image_names: their names.
        mean, std: the model's input normalization.
        dissections: ``{layer name: Dissection}`` (the toy nets), or None.
        k: patches shown; fv_size, fv_steps, fv_lr: the feature visualization's settings.
        visualizations: precomputed ``{(layer name, channel): (3, S, S) image}`` (a cache file).

    Shapes:
        images ``(N, 3, S, S)``; each cached activation ``(N, C, h, w)``.
    """

    def __init__(self, model: nn.Module, layers: Layers, images: torch.Tensor,
                 image_names: Sequence[str] = (), *, mean: Sequence[float] = IDENTITY[0],
                 std: Sequence[float] = IDENTITY[1], dissections: dict[str, Dissection] | None = None,
                 k: int = 8, fv_size: int = 128, fv_steps: int = 64, fv_lr: float = 0.05,
                 visualizations: dict[tuple[str, int], torch.Tensor] | None = None) -> None:
        self.model, self.layers, self.images = model, list(layers), check_images(images)
        self.image_names = list(image_names)
        self.mean, self.std, self.k = mean, std, k
        self.dissections = dissections or {}
        self.fv_settings = dict(size=fv_size, steps=fv_steps, lr=fv_lr)
        self.visualizations = dict(visualizations or {})
        self._acts: LRU = LRU(4)  # layer name -> (acts, field)
        self._drawn: LRU = LRU(64)  # (layer name, channel) -> (patch grid PNG, caption)
        self.where: tuple[int, int] = (len(self.layers) - 1, 0)
        self.active = True
        self.info, self.fv_info = W.HTML(), W.HTML()
        self.patch_widget = W.Image(format="png")
        self.fv_widget = W.Image(format="png", width=192)
        self.fv_button = W.Button(description="计算特征可视化")
        self.fv_button.on_click(lambda _: self.compute_visualization())
        self.widget = W.VBox([self.info, self.patch_widget,
                              W.HBox([self.fv_button, self.fv_info]), self.fv_widget])

    def layer_data(self, name: str) -> tuple[torch.Tensor, object]:
        """Activations over the image set and the receptive field of a layer (cached)."""
        if name not in self._acts:
            self.info.value = html.escape(f"正在计算 {name} 在 {len(self.images)} 张图上的输出和感受野"
                                          f"（一次前向、一次反向）……")
            acts = patches.layer_activations(self.model, self.layers, name, self.images,
                                             self.mean, self.std)
            field = patches.receptive_field(self.model, self.layers, name, self.images.shape[-1],
                                            self.mean, self.std)
            self._acts.put(name, (acts, field))
        self._acts.move_to_end(name)
        return self._acts[name]

    def show(self, layer: int | str, channel: int) -> None:
        """Follow the chosen layer and channel; draws only while the panel is active."""
        index, name, _ = resolve_layer(self.layers, layer)
        self.where = (index, channel)
        if self.active:
            self.render()

    def top(self) -> patches.TopPatches:
        """The current channel's top patches (from the cached layer data)."""
        index, channel = self.where
        name = self.layers[index][0]
        acts, field = self.layer_data(name)
        check_channel(acts.shape[1], channel, name)
        return patches.top_patches(self.model, self.layers, name, channel, self.images, self.k,
                                   acts=acts, field=field)

    def describe(self, tp: patches.TopPatches) -> str:
        """Caption: layer, channel, receptive field, where the patches come from, dissection label."""
        f = tp.field
        names = [self.image_names[int(n)] if self.image_names else str(int(n)) for n in tp.image_index]
        text = (f"{tp.layer} 通道 {tp.channel}：激活最强的 {len(tp.values)} 个图块（感受野 {f.size}×{f.size} 像素，"
                f"步长 {f.stride}），来自 {', '.join(dict.fromkeys(names))}")
        d = self.dissections.get(tp.layer)
        if d is not None:
            concept, iou = d.label(tp.channel)
            verdict = "是检测器" if iou > DETECTOR_IOU else f"不算检测器（IoU ≤ {DETECTOR_IOU}）"
            text += f" · 网络解剖标签：{concept}（IoU {iou:.3f}，{verdict}）"
        return text

    def render(self) -> None:
        """Redraw the patches, and the visualization if it is cached.

        The patch grid's PNG and caption are kept per channel (the 64 most recent), so
        going back to a channel only swaps bytes.
        """
        index, channel = self.where
        name = self.layers[index][0]
        self.patch_widget.value, self.info.value = self._drawn.fetch((name, channel), self._draw_patches)
        image = self.visualizations.get((name, channel))
        if image is None:
            s = self.fv_settings
            self.fv_info.value = html.escape(f"尚未计算：{s['size']}² 像素，{s['steps']} 步，学习率 {s['lr']}")
            self.fv_widget.value = b""
            self.fv_widget.layout.display = "none"  # no broken-image icon before the first run
        else:
            self._draw_visualization(image, name, channel)

    def _draw_patches(self) -> tuple[bytes, str]:
        tp = self.top()
        return to_png(Image.fromarray(patch_grid(tp))), html.escape(self.describe(tp))

    def compute_visualization(self) -> torch.Tensor:
        """Optimize the current channel's image (cached) and draw it. Shapes: ``(3, S, S)``."""
        index, channel = self.where
        name = self.layers[index][0]
        if (name, channel) not in self.visualizations:
            self.fv_info.value = html.escape("正在计算特征可视化……")
            t0 = time.perf_counter()
            v = fv.visualize(self.model, self.layers, name, channel, mean=self.mean, std=self.std,
                             **self.fv_settings)
            self.visualizations[(name, channel)] = v.image
            self.seconds = time.perf_counter() - t0
        self._draw_visualization(self.visualizations[(name, channel)], name, channel)
        return self.visualizations[(name, channel)]

    def _draw_visualization(self, image: torch.Tensor, name: str, channel: int) -> None:
        acts, _ = self.layer_data(name)
        ours = float(fv.channel_scores(self.model, self.layers, name, channel, image[None],
                                       mean=self.mean, std=self.std))
        best = float(acts[:, channel].mean(dim=(1, 2)).max())
        ratio = f"{ours / best:.2f} 倍" if best > 0 else "（图像集上处处为 0）"
        self.fv_widget.value = to_png(image.permute(1, 2, 0).numpy())
        self.fv_widget.layout.display = None
        self.fv_info.value = html.escape(f"特征可视化：通道平均激活 {ours:.3f}，是图像集中最大值的 {ratio}")


class ChannelExplorer(Explorer):
    """A :class:`ChannelView` with its own layer and channel sliders (e.g. for a toy net)."""

    def __init__(self, view: ChannelView, layer: int = -1, channel: int = 0) -> None:
        super().__init__()
        self.view = view
        last = len(view.layers) - 1
        self.layer = W.IntSlider(value=last if layer < 0 else layer, min=0, max=last,
                                 description="层", style=WIDE)
        self.channel = W.IntSlider(value=channel, min=0, max=0, description="通道", style=WIDE)
        self.image_widget, self.info = view.patch_widget, view.info
        self._bound()
        self.channel.value = channel
        self.layer.observe(lambda _: (self._bound(), self._redraw({})), names="value")
        self.channel.observe(self._redraw, names="value")
        self.widget = W.VBox([W.HBox([self.layer, self.channel]), view.widget])
        self.render()

    def _bound(self) -> None:
        acts, _ = self.view.layer_data(self.view.layers[self.layer.value][0])
        with self.quiet():
            self.channel.max = acts.shape[1] - 1

    def render(self) -> bytes:
        self.view.show(self.layer.value, self.channel.value)
        self.renders += 1
        return self.image_widget.value

    def describe(self) -> str:
        return self.info.value

    def summary(self) -> str:
        return f"通道浏览器：{len(self.view.layers)} 层，{len(self.view.images)} 张图（在 Jupyter 中拖动滑块查看）"


def channel_explorer(model: nn.Module, layers: Layers, images: torch.Tensor,
                     **options: object) -> ChannelExplorer:
    """A :class:`ChannelView` with sliders; ``options`` go to :class:`ChannelView`."""
    return ChannelExplorer(ChannelView(model, layers, images, **options))


def bundle_view(bundle, follow: Explorer, **options: object) -> tuple[ChannelView, W.Accordion]:
    """The view over the course's photos for a model bundle, folded in an accordion.

    It computes nothing while folded; opening it draws the channel that ``follow``
    (an explorer with ``layer`` and ``current_channel()``) shows.
    """
    images, names = patches.photo_batch(bundle)  # (6, 3, 224, 224)
    view = ChannelView(bundle.model, bundle.feature_layers, images, names, mean=bundle.mean,
                       std=bundle.std, **options)
    view.active = False
    panel = W.Accordion(children=[view.widget], selected_index=None)
    panel.set_title(0, "这个通道看到了什么（激活最强的图块、特征可视化）")

    def on_open(change: dict) -> None:
        view.active = change["new"] is not None
        if view.active:
            view.show(follow.layer.value, follow.current_channel())

    panel.observe(on_open, names="selected_index")
    return view, panel
