"""helpers.images: every sample, odd modes and sizes, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import images
from helpers.images import ImageLoadError, crop_box, load_image


@pytest.mark.parametrize("name", images.list_images(extra=True))
def test_samples_load_as_rgb(name):
    im = load_image(name)
    assert im.mode == "RGB" and min(im.size) >= 224


def test_cat_and_cup_keeps_both_objects_after_center_crop():
    # The composite puts the cat in the left half and the cup in the right half;
    # the centre crop that the models see must keep nearly all of both.
    left, top, right, bottom = crop_box(load_image("cat_and_cup").size)
    assert left <= 40 and right >= 512 - 40 and top <= 128 and bottom >= 384


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def test_modes_convert_correctly(tmp_path, rgb):
    gray = Image.fromarray(rgb[..., 0])
    gray.save(tmp_path / "g.png")
    out = np.asarray(load_image(tmp_path / "g.png"))
    assert (out == rgb[..., :1]).all()

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 0, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert (np.asarray(load_image(tmp_path / "a.png")) == 255).all()  # transparent -> white

    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    out = np.asarray(load_image(tmp_path / "c.jpg"), dtype=float)
    assert np.abs(out - rgb).mean() < 25

    sixteen = (rgb[..., 0].astype(np.uint16) * 257)
    Image.fromarray(sixteen).save(tmp_path / "s.png")
    out = np.asarray(load_image(tmp_path / "s.png"))
    assert np.abs(out[..., 0].astype(int) - rgb[..., 0]).max() <= 1

    Image.fromarray(rgb).convert("P").save(tmp_path / "p.gif")
    assert load_image(tmp_path / "p.gif").mode == "RGB"


def test_exif_rotation_is_applied(tmp_path, rgb):
    im = Image.fromarray(rgb)  # 30 wide, 20 high
    exif = im.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 CW on display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 30)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    out = np.asarray(load_image(tmp_path / "anim.gif"))
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 50


def test_chinese_path_with_spaces(tmp_path, rgb):
    folder = tmp_path / "我的 图片"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "猫 照片.png")
    assert load_image(str(folder / "猫 照片.png")).size == (30, 20)


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.png"):
        load_image(tmp_path / "nothere.png")
    with pytest.raises(FileNotFoundError, match="sample names"):
        load_image("dog")
    with pytest.raises(IsADirectoryError, match="directory"):
        load_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ImageLoadError, match="text.jpg"):
        load_image(tmp_path / "text.jpg")
    data = (images.IMAGE_DIR / "cat.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="cut.png"):
        load_image(tmp_path / "cut.png")


def test_huge_image_refused_without_decoding(tmp_path):
    Image.new("1", (20000, 20000)).save(tmp_path / "huge.png")
    with pytest.raises(ImageLoadError, match="20000x20000"):
        load_image(tmp_path / "huge.png")


def test_tiny_image_loads(tmp_path):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "one.png")
    assert load_image(tmp_path / "one.png").getpixel((0, 0)) == (10, 20, 30)


def test_crop_box_matches_resize_center_crop(bundle):
    im = load_image("rocket")  # 640x427, wide
    box = bundle.crop_box(im.size)
    assert box == crop_box(im.size, bundle.resize, bundle.crop)
    x = bundle.preprocess(im)  # (3, 224, 224)
    crop = np.asarray(im.crop(box).resize((224, 224), Image.Resampling.BICUBIC), np.float32)
    ref = (torch.from_numpy(crop / 255).permute(2, 0, 1) - 0.5) / 0.5  # bundled mean/std 0.5
    side = 427 * 224 / 256  # the crop keeps 224/256 of the short side
    assert box == (round((640 - side) / 2), round((427 - side) / 2), round((640 + side) / 2), round((427 + side) / 2))
    assert (x - ref).abs().mean() < 0.05
