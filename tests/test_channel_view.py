"""helpers.widgets.channel_view: the "what this channel sees" panel and its explorer."""

from __future__ import annotations

import pytest
import torch

from helpers import widgets
from helpers.toy import world as shapes
from helpers.channels import concepts, dissect, patches
from helpers.channels.layers import toy_layers
from helpers.widgets.channel_view import ChannelView


@pytest.fixture(scope="module")
def toy():
    net = shapes.load_net("gap")
    world = concepts.toy_concepts(40, 11)
    ds = dissect.dissect(net, toy_layers(net), range(4), world.images, world.masks, world.names)
    return net, world, ds


def test_channel_explorer_redraws_from_its_cache_and_names_the_dissection_label(toy, monkeypatch):
    net, world, ds = toy
    ex = widgets.channel_explorer(net, toy_layers(net), world.images, dissections=ds, fv_size=32,
                                  fv_steps=4)
    first = ex.image_widget.value
    concept, iou = ds["features.3"].label(0)
    assert f"{concept}（IoU {iou:.3f}" in ex.describe()

    def no_forward(*args, **kwargs):
        raise AssertionError("a channel change must not run the model again")

    monkeypatch.setattr(patches, "layer_activations", no_forward)
    ex.channel.value = 1
    assert ex.image_widget.value != first and "通道 1" in ex.describe()
    tp = ex.view.top()  # the same numbers as a direct call
    direct = patches.top_patches(net, toy_layers(net), 3, 1, world.images, k=8,
                                 acts=ex.view.layer_data("features.3")[0])
    torch.testing.assert_close(tp.values, direct.values)
    monkeypatch.undo()
    ex.layer.value = 0  # a new layer: computed once, channel bound follows (8 channels)
    assert ex.channel.max == 7 and ex.channel.value == 1
    image = ex.view.compute_visualization()
    assert image.shape == (3, 32, 32) and ("features.0", 1) in ex.view.visualizations
    assert "特征可视化：通道平均激活" in ex.view.fv_info.value


def test_feature_map_explorer_panel_is_lazy_and_follows_the_channel(bundle):
    explorer = widgets.feature_map_explorer(bundle, "cat")
    view = explorer.channel_view
    assert len(view._acts) == 0 and view.patch_widget.value == b""  # folded: nothing computed
    panel = explorer.widget.children[-1]
    panel.selected_index = 0
    first = view.patch_widget.value
    assert first and explorer.layer_name in view.info.value
    explorer.channel.value = 3
    assert view.patch_widget.value != first
    assert f"通道 {explorer.current_channel()}" in view.info.value


def test_channel_view_bad_input(toy):
    net, world, _ = toy
    with pytest.raises(ValueError, match="empty"):
        ChannelView(net, toy_layers(net), world.images[:0])
    view = ChannelView(net, toy_layers(net), world.images[:4])
    with pytest.raises(IndexError, match="layer must be an index"):
        view.show(7, 0)
    with pytest.raises(IndexError, match="channel must be in"):
        view.show(0, 8)
