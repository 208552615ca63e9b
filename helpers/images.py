"""Opening sample and user images as clean RGB PIL images.

The textbook opens files with ``path + '\\\\' + name``, which only works on
Windows; here any ``str`` or ``Path`` works, Chinese characters included.

Introduced in notebooks/00_start_here.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .arrays import minmax

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
IMAGE_DIR = DATA_DIR / "images"
SAMPLE_IMAGES = {
    "cat": "cat.png",
    "coffee": "coffee.png",
    "astronaut": "astronaut.png",
    "rocket": "rocket.jpg",
    "grace_hopper": "grace_hopper.jpg",
    "cat_and_cup": "cat_and_cup.jpg",
}
EXTRA_IMAGES = {  # more photos for the faithfulness lab (notebooks/09_ext_trust), not in the menus
    "camera": "camera.png",
    "clock": "clock.png",
    "china": "china.jpg",
    "flower": "flower.jpg",
    "coins": "coins.png",
}
RESIZE, CROP = 256, 224  # the ImageNet preprocessing: short side 256, centre crop 224
MAX_PIXELS = 40_000_000  # 40 megapixels: a big photo is fine, a decompression bomb is not


class ImageLoadError(ValueError):
    """An image could not be opened; the message names the file and the reason."""


def list_images(extra: bool = False) -> list[str]:
    """Names of the sample images that ship in ``data/images``.

    Args:
        extra: also the photos of :data:`EXTRA_IMAGES` (used by the faithfulness lab,
            kept out of the widgets' photo menus).
    """
    return list(SAMPLE_IMAGES) + (list(EXTRA_IMAGES) if extra else [])


def sample_path(name: str) -> Path:
    """Path of a sample image by name (``"cat"``, ``"coffee"``, ...)."""
    files = SAMPLE_IMAGES | EXTRA_IMAGES
    if name not in files:
        raise KeyError(f"no sample image {name!r}; choose one of {list(files)}")
    return IMAGE_DIR / files[name]


def load_image(name_or_path: str | Path | bytes) -> Image.Image:
    """Open a sample image by name, a file by path, or raw file bytes, as RGB.

    Grayscale, palette, RGBA (composited on white), CMYK and 16-bit images are
    converted to 8-bit RGB; EXIF rotation is applied; an animated image gives
    its first frame.

    Raises:
        FileNotFoundError: no such file (the message names it).
        IsADirectoryError: the path is a directory.
        ImageLoadError: empty, truncated or non-image file, or more than
            ``MAX_PIXELS`` pixels.
    """
    if isinstance(name_or_path, (bytes, bytearray)):
        return _open(io.BytesIO(name_or_path), "uploaded file")
    if isinstance(name_or_path, str) and name_or_path in SAMPLE_IMAGES | EXTRA_IMAGES:
        path = sample_path(name_or_path)
    else:
        path = Path(name_or_path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file")
    if not path.is_file():
        hint = f" (sample names: {', '.join(list_images(extra=True))})" if len(path.parts) == 1 else ""
        raise FileNotFoundError(f"image file not found: {path}{hint}")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{path} is empty (0 bytes)")
    return _open(path, str(path))


def _open(source, label: str) -> Image.Image:
    bomb_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # read the header only; our own limit applies below
        with Image.open(source) as im:
            Image.MAX_IMAGE_PIXELS = bomb_limit
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageLoadError(
                    f"{label} is {w}x{h} ({w * h / 1e6:.0f} MP), larger than the "
                    f"{MAX_PIXELS / 1e6:.0f} MP limit; shrink it before loading"
                )
            im.seek(0)  # first frame of an animation
            im.load()
            return to_rgb(im)
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(f"cannot read {label} as an image: {err}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = bomb_limit


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any PIL image to 8-bit RGB, honouring EXIF rotation and transparency."""
    im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I") or im.mode == "F":  # 16-bit, 32-bit integer or float
        a = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            a = minmax(a)
        else:
            a = a / (65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0)
        im = Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    return im.convert("RGB")


def crop_box(size: tuple[int, int], resize: int = RESIZE,
             crop: int = CROP) -> tuple[int, int, int, int]:
    """The region of the original image that ``Resize(resize)`` + ``CenterCrop(crop)`` keeps.

    Prefer ``bundle.crop_box(size)``: the bundle passes the numbers of its own
    preprocessing, so the box cannot disagree with what the model saw.

    Args:
        size: the original image's ``(w, h)`` (PIL order).
        resize, crop: the short side after ``Resize`` and the side of ``CenterCrop``.

    Returns:
        ``(left, top, right, bottom)`` in the original's pixel coordinates, so
        a 224x224 map can be laid back exactly where the model looked.
    """
    w, h = size
    scale = resize / min(w, h)
    side = crop / scale  # the crop's side length in original pixels
    left, top = (w - side) / 2, (h - side) / 2
    return round(left), round(top), round(left + side), round(top + side)
