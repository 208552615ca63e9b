"""The shared image picker and PNG encoding used by every explorer."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from helpers.images import IMAGE_DIR, load_image
from helpers.widgets.common import ImagePicker, to_png


def test_to_png_round_trip_and_width():
    a = np.random.default_rng(0).random((4, 6, 3)).astype(np.float32)
    back = np.asarray(Image.open(io.BytesIO(to_png(a))))
    assert np.abs(back / 255 - a).max() <= 1 / 255
    assert Image.open(io.BytesIO(to_png(a, width=12))).size == (12, 8)


def test_picker_switches_samples_and_survives_bad_uploads():
    seen = []
    picker = ImagePicker("cat", lambda im, label: seen.append(label))
    picker.dropdown.value = "coffee"
    assert seen == ["coffee"] and picker.image.size == load_image("coffee").size
    assert not picker.load_upload("notes<b>.jpg", b"definitely not an image")
    assert "notes&lt;b&gt;.jpg" in picker.message.value and "上一张" in picker.message.value
    assert seen == ["coffee"] and picker.label == "coffee"
    assert picker.load_upload("猫.png", (IMAGE_DIR / "cat.png").read_bytes())
    assert seen[-1] == "猫.png" and picker.message.value == ""
