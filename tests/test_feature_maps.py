"""The 9.1 feature-map explorer: state logic driven from code, no browser.

Uses a tiny seeded network wrapped as a ModelBundle (fast), the bundled
EfficientNet-Lite0 for the cache-versus-fresh-forward check, and an untrained
torchvision VGG16-bn for the textbook's 45 layers.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from helpers import hooks
from helpers.draw import viz
from helpers.images import IMAGE_DIR, crop_box, load_image
from helpers.models import ModelBundle
from helpers.widgets import feature_map_explorer
from helpers.widgets.feature_maps import rank_channels


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.fixture
def tiny_bundle(tiny_net) -> ModelBundle:
    mean = std = (0.5, 0.5, 0.5)
    preprocess = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    return ModelBundle(
        model=tiny_net, name="tiny", requested="tiny", source="test", preprocess=preprocess,
        categories=[str(i) for i in range(5)],
        feature_layers=[(f"features.{i}", m) for i, m in enumerate(tiny_net.features)],
        cam_layer_name="features.6", classifier_weight=tiny_net.fc.weight.detach(),
        gradcam_layer_name="features.6", mean=mean, std=std,
    )


@pytest.fixture
def noise_image() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))


def test_rank_channels_orders_by_mean_after_relu():
    acts = torch.zeros(4, 2, 2)
    acts[0] = -5.0  # very negative: mean after ReLU is 0
    acts[1, 0, 0] = 4.0  # mean 1
    acts[2] = 2.0  # mean 2
    acts[3] = 0.5
    assert rank_channels(acts).tolist() == [2, 1, 3, 0]


def test_one_forward_pass_and_no_hooks_left(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image)
    assert ex.forward_passes == 1 and hooks.count_hooks(tiny_bundle.model) == 0
    for value in (0, 3, 6):
        ex.layer.value = value
    ex.alpha.value = 0.2
    ex.mode.value = "grid16"
    ex.order.value = "index"
    assert ex.forward_passes == 1, "slider moves must only redraw"
    assert hooks.count_hooks(tiny_bundle.model) == 0


def test_cached_activations_equal_fresh_forward(bundle):
    image = load_image("coffee")
    ex = feature_map_explorer(bundle, image)
    assert list(ex.acts) == [name for name, _ in bundle.feature_layers]
    fresh = hooks.capture_activations(bundle.model, bundle.to_input(image), bundle.feature_layers)
    for name, _ in bundle.feature_layers:
        torch.testing.assert_close(ex.acts[name], fresh[name].cpu(), atol=1e-5, rtol=1e-5)
    assert ex.acts[ex.names[-1]].shape == (1, 1280, 7, 7)
    assert ex.acts is not fresh and hooks.count_hooks(bundle.model) == 0


def test_layer_change_clamps_channel(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image, layer=4, order="index")
    assert ex.channel.max == 15  # features.4: Conv2d(8, 16)
    ex.channel.value = 15
    renders = ex.renders
    ex.layer.value = 0  # Conv2d(3, 8): 8 channels
    assert (ex.channel.max, ex.channel.value) == (7, 7)
    assert ex.renders == renders + 1, "one layer change, one redraw"
    assert "features.0" in ex.info.value and "(1, 8, 224, 224)" in ex.info.value
    ex.channel.value = 99  # out of range cannot be chosen
    assert ex.channel.value == 7
    ex.layer.value = 6
    assert ex.channel.max == 15 and ex.channel.value == 7


def test_bad_upload_keeps_picture_and_state(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image, layer=2)
    before_png, before_acts = ex.image_widget.value, ex.acts
    assert not ex.picker.load_upload("notes.txt", b"this is not an image")
    assert "notes.txt" in ex.picker.message.value
    assert ex.image_widget.value == before_png and ex.acts is before_acts
    assert ex.forward_passes == 1 and ex.layer.value == 2
    # A good upload afterwards recomputes once and keeps the layer.
    assert ex.picker.load_upload("cat.png", (IMAGE_DIR / "cat.png").read_bytes())
    assert ex.forward_passes == 2 and ex.layer.value == 2
    assert ex.image_widget.value != before_png and ex.picker.message.value == ""


def test_png_changes_with_layer_and_alpha(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image, layer=6, alpha=0.5, size=64)
    first = ex.image_widget.value
    ex.alpha.value = 0.8
    assert ex.image_widget.value != first
    ex.alpha.value = 1.0  # photo weight 1: exactly the centre crop the model saw
    crop = noise_image.crop(crop_box(noise_image.size)).resize((64, 64), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(decode(ex.image_widget.value), np.asarray(crop))
    ex.alpha.value = 0.5
    assert ex.image_widget.value == first, "same state, same picture"
    ex.layer.value = 0
    assert ex.image_widget.value != first


def test_overlay_matches_book_blend(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image, layer=4, channel=3, alpha=0.7,
                              order="index", size=48)
    crop = noise_image.crop(crop_box(noise_image.size)).resize((48, 48), Image.Resampling.BICUBIC)
    m = viz.normalize(np.maximum(ex.acts["features.4"][0, 3].numpy(), 0)) ** 2  # showImg's numbers
    big = np.asarray(Image.fromarray(m).resize((48, 48), Image.Resampling.BICUBIC))  # (w, h)
    heat = matplotlib.colormaps["jet"](np.clip(big, 0, 1))[..., :3] * 255  # (48, 48, 3)
    expected = 0.7 * np.asarray(crop, dtype=np.float32) + 0.3 * heat
    got = decode(ex.image_widget.value).astype(np.float32)
    assert np.abs(got - expected).max() <= 0.5 + 1e-3  # only the rounding to 8 bits


def test_grid_mode_shows_first_channels_in_order(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image, layer=3, mode="grid16", order="index",
                              width=4 * 113 - 1)
    assert ex.channels_shown() == list(range(8))  # features.3 (max pool) has 8 channels
    pic = ex.picture()
    assert pic.shape == (2 * 113 - 1, 4 * 113 - 1, 3)  # two rows of four 112x112 tiles
    tile = pic[113: 113 + 112, 113: 113 + 112]  # channel 5: row 1, column 1
    expected = viz.show_channel(ex.acts["features.3"][0, 5]) * 255
    assert np.abs(tile.astype(np.float32) - expected).max() <= 0.5 + 1e-3
    ex.order.value = "active"
    assert ex.channels_shown() == rank_channels(ex.acts["features.3"][0]).tolist()
    assert ex.alpha.disabled and "8 个通道" in ex.info.value


def test_order_active_keeps_channel_and_ranks(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image, layer=6, order="index", channel=5)
    ex.order.value = "active"
    assert ex.current_channel() == 5, "switching the order keeps the channel on screen"
    ex.channel.value = 0
    top = int(rank_channels(ex.acts["features.6"][0])[0])
    assert ex.current_channel() == top and f"通道 {top}" in ex.info.value
    assert "排第 1" in ex.info.value


def test_repr_is_short_and_deterministic(tiny_bundle, noise_image):
    ex = feature_map_explorer(tiny_bundle, noise_image)
    data = ex._repr_mimebundle_()
    assert data["text/plain"] == "特征图浏览器：tiny，7 层（在 Jupyter 中拖动滑块查看）"
    assert "application/vnd.jupyter.widget-view+json" in data


def test_vgg16_bn_textbook_layers():
    from torchvision import models as tvm

    from helpers.models import describe_torchvision

    # The real architecture, built without the 120M-parameter classifier (it is not a feature
    # layer) so that the test stays fast: meta device, then only the features get weights.
    with torch.device("meta"):
        net = tvm.vgg16_bn(weights=None)
    net.classifier = torch.nn.Identity()
    net = net.to_empty(device="cpu")
    torch.manual_seed(0)
    for m in net.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()  # conv weights; BatchNorm also resets its running stats
    vgg = describe_torchvision("vgg16_bn", net, ["c"] * 1000)
    ex = feature_map_explorer(vgg, load_image("cat"), layer=3, order="index", channel=63)
    assert len(ex.names) == 45 and ex.layer.max == 44 and ex.names[-1] == "avgpool"
    assert ex.channel.max == 63 and ex.acts["features.3"].shape == (1, 64, 224, 224)
    ex.layer.value = 44
    assert ex.channel.max == 511 and ex.channel.value == 63
    assert "(1, 512, 7, 7)" in ex.info.value
    assert hooks.count_hooks(vgg.model) == 0
