"""The bad-input and resource battery: every public helper fails clearly, and leaks nothing.

Each bad input must give an exception whose message names the problem (not a
traceback from deep inside torch or PIL), or a correct result.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from helpers import cam, load_model
from helpers.draw import viz
from helpers.hooks import Capture, count_hooks
from helpers.models import resolve_source


# ----------------------------------------------------------------- models ---

@pytest.mark.parametrize("name, source, error, words", [
    ("alexnet", "bundled", ValueError, "unknown model"),
    ("vgg16_bn", "hub", ValueError, "source must be one of"),
    ("efficientnet_lite0", "torchvision", Exception, "use source='bundled'"),
])
def test_load_model_bad_arguments(name, source, error, words):
    with pytest.raises(error, match=words):
        load_model(name, source=source, device="cpu")


def test_bad_env_source_is_named(monkeypatch):
    monkeypatch.setenv("CH9_MODEL_SOURCE", "offline-please")
    with pytest.raises(ValueError, match="offline-please"):
        resolve_source("resnet18")


# -------------------------------------------------------------------- viz ---

@pytest.mark.parametrize("call, words", [
    (lambda: viz.upsample(np.zeros((2, 3, 4)), (4, 4)), "2-D map"),
    (lambda: viz.upsample(np.zeros(5), (4, 4)), "2-D map"),
    (lambda: viz.upsample(np.zeros((2, 2)), (0, 4)), "positive"),
    (lambda: viz.normalize(np.zeros((0,))), "empty"),
    (lambda: viz.normalize(np.array([np.inf, 1.0])), "NaN or inf"),
    (lambda: viz.channel_grid(torch.zeros(4, 3, 3), channels=[-1]), r"\[0, 3\]"),
    (lambda: viz.channel_grid(torch.zeros(4, 3, 3), channels=[1.5]), r"\[0, 3\]"),
    (lambda: viz.channel_grid(torch.zeros(3, 3), channels=[0]), "expects"),
])
def test_viz_rejects_bad_maps_clearly(call, words):
    with pytest.raises((ValueError, IndexError), match=words):
        call()


def test_overlay_on_tiny_and_odd_images():
    from PIL import Image

    for size in [(1, 1), (3, 200), (200, 3)]:
        out = viz.overlay(Image.new("RGB", size, (255, 0, 0)), np.random.rand(7, 7), alpha=0.5)
        assert out.size == size and out.mode == "RGB"


# -------------------------------------------------------------------- cam ---

# The bad class indices, shapes and layers of cam.grad_cam / class_weight_cam are
# tested once, in tests/test_cam.py (test_errors_are_clear_and_leave_no_hooks);
# here only the input that is not a tensor at all.

def test_cam_rejects_a_numpy_input_by_name(tiny_net):
    with pytest.raises(TypeError, match="tensor"):
        cam.grad_cam(tiny_net, tiny_net.features, np.zeros((1, 3, 32, 32)))
    assert count_hooks(tiny_net) == 0


# -------------------------------------------------------------- resources ---

def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="Linux only")
def test_thousand_cams_leave_no_hooks_and_no_growing_memory(tiny_net):
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    layer = tiny_net.features
    first = cam.grad_cam(tiny_net, layer, x).cam
    for _ in range(100):  # warm-up: allocator caches settle
        cam.grad_cam(tiny_net, layer, x)
    gc.collect()
    before = _rss_bytes()
    for i in range(1000):
        out = cam.grad_cam(tiny_net, layer, x, class_idx=i % 5)
        if i % 100 == 0:
            with pytest.raises(IndexError):
                cam.grad_cam(tiny_net, layer, x, class_idx=99)
    gc.collect()
    growth = _rss_bytes() - before
    print(f"resident memory growth over 1000 Grad-CAMs: {growth / 2**20:.2f} MiB")
    assert growth < 16 * 2**20
    assert count_hooks(tiny_net) == 0 and out.cam.shape == (16, 16)
    assert all(p.grad is None for p in tiny_net.parameters())
    np.testing.assert_array_equal(cam.grad_cam(tiny_net, layer, x).cam, first)


def test_exception_inside_leaf_capture_leaves_nothing(tiny_net, tiny_input):
    for _ in range(20):
        with pytest.raises(KeyError):
            with Capture(tiny_net.features, leaf=True) as cap:
                tiny_net(tiny_input)
                cap.leaves["missing"]
    assert count_hooks(tiny_net) == 0


def test_same_input_same_map_on_the_bundled_model(bundle):
    from helpers import load_image

    x = bundle.to_input(load_image("cat"))
    a = cam.grad_cam(bundle.model, bundle.gradcam_layer, x)
    b = cam.grad_cam(bundle.model, bundle.gradcam_layer, x)
    np.testing.assert_array_equal(a.cam, b.cam)
    assert a.class_idx == b.class_idx and count_hooks(bundle.model) == 0


# -------------------------------------------------------------- explorers ---

@pytest.fixture
def explorers(bundle):
    from helpers import widgets

    return (widgets.feature_map_explorer(bundle, "cat"),
            widgets.cam_explorer(bundle, "cat_and_cup"))


def test_cam_explorer_unknown_class_name_keeps_state(explorers):
    _, ce = explorers
    before = (ce.classes.value, ce.image_widget.value)
    assert not ce.select_class("no such <b>class</b>")
    assert "&lt;b&gt;" in ce.message.value
    assert (ce.classes.value, ce.image_widget.value) == before
    assert ce.select_class("Coffee Mug")  # any case
    assert ce.message.value == ""


@pytest.mark.parametrize("payload", [b"", b"GIF89a broken", b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
                                     "文本".encode()])
def test_explorers_survive_bad_uploads(explorers, payload):
    for ex in explorers:
        before = ex.image_widget.value  # the PNG the student sees
        assert not ex.picker.load_upload("坏文件.jpg", payload)
        assert "坏文件.jpg" in ex.picker.message.value
        assert ex.image_widget.value == before
