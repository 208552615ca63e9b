"""The CAM / Grad-CAM explorer: caching, class by name, uploads; and viz.overlay_box."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch.nn.functional as F
from PIL import Image

from helpers import cam
from helpers.draw import explain, viz
from helpers.hooks import count_hooks
from helpers.images import IMAGE_DIR, load_image
from helpers.widgets import cam_explorer


@pytest.fixture
def forward_counter(bundle):
    """Counts forward passes of the bundled model (the hook is removed afterwards)."""
    calls = []
    handle = bundle.model.register_forward_pre_hook(lambda m, i: calls.append(1))
    yield calls
    handle.remove()


def test_cache_costs_one_pass_per_new_map(bundle, forward_counter):
    ex = cam_explorer(bundle, "cat_and_cup")
    assert len(forward_counter) == ex.passes == 1
    for a in (0.2, 0.4, 0.9):
        ex.alpha.value = a
    ex.cmap.value = "viridis"
    assert len(forward_counter) == 1 and ex.renders == 5  # redraws only
    first = ex.classes.value
    other = ex.classes.options[3][1]
    ex.classes.value = other
    assert len(forward_counter) == 2
    ex.classes.value = first
    ex.classes.value = other
    assert len(forward_counter) == 2  # both maps are cached
    ex.layer.value = ex.layer_names[-3]
    assert len(forward_counter) == 3
    ex.layer.value = bundle.gradcam_layer_name
    ex.method.value = "cam"
    assert len(forward_counter) == 4 and ex.layer.disabled
    ex.method.value = "grad_cam"
    assert len(forward_counter) == 4 and not ex.layer.disabled
    ex.picker.dropdown.value = "coffee"
    assert len(forward_counter) == 5 == ex.passes
    assert bundle.categories[ex.class_idx] == "espresso"
    assert count_hooks(bundle.model) == 1  # only the counter of this test


@pytest.mark.parametrize("method", ["grad_cam", "eigen_cam"])
def test_explorer_and_figure_draw_the_same_pixels(bundle, method):
    """The explorer's picture is the figures' overlay_explanation, pixel for pixel; both are
    the hand-written bilinear upsampling of ReLU(raw) to the box, min-max, colour rows."""
    ex = cam_explorer(bundle, "rocket", alpha=0.35, cmap="viridis", method=method)  # wide photo
    res = ex.result(ex.class_idx)
    photo = Image.fromarray(ex.photo.pixels)
    expected = explain.overlay_explanation(photo, res, box=ex.photo.box, alpha=0.35,
                                           cmap="viridis")
    left, top, right, bottom = ex.photo.box
    up = F.interpolate(res.raw.clamp(min=0)[None, None], size=(bottom - top, right - left),
                       mode="bilinear", align_corners=False)[0, 0]
    by_hand = viz.blend(ex.photo.crop, viz.colour_index(((up - up.min()) / (up.max() - up.min()))
                                                        .numpy()), 0.35, "viridis")
    inner = np.asarray(expected)[top + 2:bottom - 2, left + 2:right - 2]  # inside the frame
    np.testing.assert_array_equal(inner, by_hand[2:-2, 2:-2])
    np.testing.assert_array_equal(np.asarray(ex.picture()), np.asarray(expected))
    shown = np.asarray(Image.open(io.BytesIO(ex.image_widget.value)).convert("RGB"))
    np.testing.assert_array_equal(shown, np.asarray(expected))
    # The box is the bundle's own crop geometry, scaled to the display.
    scale = ex.width / 640
    assert ex.photo.box == tuple(round(v * scale) for v in bundle.crop_box((640, 427)))


def test_figures_of_the_crop_did_not_move(bundle):
    """On the 224 x 224 crop, the former figure cell ``viz.overlay(crop, res.cam)`` and
    ``overlay_explanation(crop, res)`` give the same pixels: ``.cam`` is the same upsampling."""
    image = load_image("cat_and_cup")
    crop = image.crop(bundle.crop_box(image.size)).resize((224, 224))
    res = cam.grad_cam(bundle.model, bundle.gradcam_layer, bundle.to_input(image))
    np.testing.assert_array_equal(np.asarray(viz.overlay(crop, res.cam, alpha=0.5)),
                                  np.asarray(explain.overlay_explanation(crop, res, alpha=0.5)))


def test_class_by_name_and_picture_changes(bundle):
    ex = cam_explorer(bundle, "cat_and_cup", alpha=0.0)  # heat only
    cat_picture = np.asarray(ex.picture(), dtype=np.float32)
    passes = ex.passes
    assert not ex.select_class("cupp")
    assert "cupp" in ex.message.value and "cup" in ex.message.value
    assert ex.class_idx != bundle.categories.index("cup") and ex.passes == passes
    ex.class_name.value = "CUP"  # case does not matter
    assert ex.class_idx == bundle.categories.index("cup") and ex.message.value == ""
    assert ex.classes.value == ex.class_idx
    cup_picture = np.asarray(ex.picture(), dtype=np.float32)
    assert np.abs(cup_picture - cat_picture).mean() > 10
    ex.class_name.value = "goldfish"  # not in the top 5: appended to the dropdown
    assert ex.classes.options[-1][1] == bundle.categories.index("goldfish")
    assert len(ex.classes.options) == 6 and "其他" in ex.classes.options[-1][0]
    assert "goldfish" in ex.describe()


def test_bad_upload_keeps_state_and_good_upload_switches(bundle):
    ex = cam_explorer(bundle, "cat")
    before, passes, cls = np.asarray(ex.picture()), ex.passes, ex.class_idx
    assert not ex.picker.load_upload("notes.jpg", b"not an image at all")
    assert "notes.jpg" in ex.picker.message.value
    assert ex.passes == passes and ex.class_idx == cls
    np.testing.assert_array_equal(np.asarray(ex.picture()), before)
    assert ex.picker.load_upload("咖啡.png", (IMAGE_DIR / "coffee.png").read_bytes())
    assert ex.passes == passes + 1 and bundle.categories[ex.class_idx] == "espresso"
    png = Image.open(io.BytesIO(ex.image_widget.value))
    assert png.size == (384, 256)  # the 600x400 photo at the display width


def test_model_without_cam_head(bundle):
    no_head = dataclasses.replace(bundle, classifier_weight=None)
    ex = cam_explorer(no_head, "cat", method="cam")
    assert ex.method.value == "grad_cam"
    assert [v for _, v in ex.method.options] == list(cam.METHODS)  # every method but CAM
    assert "CAM 不可用" in ex.method_note.value
    assert "浏览器" in ex._repr_mimebundle_()["text/plain"]
    with pytest.raises(ValueError, match="feature_layers"):
        cam_explorer(bundle, "cat", layer="no.such.layer")


def test_overlay_box_places_the_map_inside_the_box_only():
    image = load_image("rocket")  # 640 x 427
    box = (120, 0, 520, 427)
    m = np.random.default_rng(0).random((7, 7)).astype(np.float32)
    out = np.asarray(viz.overlay_box(image, m, box, alpha=0.6, outline=None))
    photo = np.asarray(image)
    left, top, right, bottom = box
    inside = np.asarray(viz.overlay(image.crop(box), m, alpha=0.6))
    np.testing.assert_array_equal(out[top:bottom, left:right], inside)
    outside = np.ones(photo.shape[:2], dtype=bool)
    outside[top:bottom, left:right] = False
    np.testing.assert_array_equal(out[outside], photo[outside])
    framed = np.asarray(viz.overlay_box(image, m, box))
    assert (framed[top + 50, left] == 255).all()  # the white frame
    with pytest.raises(ValueError, match="inside the image"):
        viz.overlay_box(image, m, (0, 0, 700, 100))


def test_thin_photo_and_failing_model_keep_the_explorer_usable(bundle, monkeypatch):
    ex = cam_explorer(bundle, "cat")
    buf = io.BytesIO()
    Image.new("RGB", (1, 400), (200, 30, 30)).save(buf, format="PNG")
    assert ex.picker.load_upload("line.png", buf.getvalue())
    left, top, right, bottom = ex.photo.box
    assert right > left and bottom > top and ex.picture().size == (1, 384)
    before, cls, photo = np.asarray(ex.picture()), ex.class_idx, ex.photo

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setitem(cam.METHODS, "grad_cam", broken)
    ex.picker.dropdown.value = "coffee"
    assert "out of memory" in ex.message.value and ex.class_idx == cls
    assert ex.photo is photo  # the whole per-photo state stayed
    np.testing.assert_array_equal(np.asarray(ex.picture()), before)


def test_every_method_in_the_dropdown_is_that_method_and_cached(bundle):
    ex = cam_explorer(bundle, "cat", method="grad_cam")
    assert ex.method.value == "grad_cam"
    assert [v for _, v in ex.method.options] == ["cam", *cam.METHODS]
    k = ex.class_idx
    for name in ("grad_cam_pp", "layer_cam"):
        ex.method.value = name
        direct = cam.METHODS[name](bundle.model, ex.layer.value, ex.photo.x, k)
        assert np.allclose(ex.result(k).raw.numpy(), direct.raw.numpy(), atol=1e-6)
        assert name.replace("_cam", "").replace("_", "")[:4].lower() in ex.describe().lower() \
            .replace("-", "").replace(" ", "")
    passes = ex.passes
    ex.method.value = "grad_cam_pp"
    ex.alpha.value = 0.3
    assert ex.passes == passes  # cached: a method seen before only redraws
    with pytest.raises(ValueError, match="score_cam"):
        cam_explorer(bundle, "cat", method="nope")
