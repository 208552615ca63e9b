"""ch9-interpret helpers: the thin package that the chapter 9 notebooks import.

Nothing runs on import. The notebooks call :func:`setup` in their first code
cell, then import what they use. Core modules sit at the top (``arrays``, ``hooks``,
``images``); each family is a package: ``models``, ``toy``, ``cam``, ``attribution``,
``trust``, ``text``, ``draw``, then ``widgets`` and ``exercises`` on top (docs/architecture.md).
``import helpers`` loads ``models``, ``cam`` and ``attribution``; the others load on first use
(``from helpers.draw import viz``), so that it does not pull in ipywidgets or transformers.

The flat names of the modules before the packages (``helpers.viz``, ``helpers.faithfulness``,
...) still resolve for one term, with a ``DeprecationWarning`` naming the new path
(:mod:`helpers._moved`).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from . import _moved, attribution, cam, hooks, images, models
from .images import list_images, load_image
from .models import ModelBundle, get_device, load_model, resolve_source

__all__ = [
    "ModelBundle", "attribution", "cam", "get_device", "hooks", "images", "list_images",
    "load_image", "load_model", "models", "resolve_source", "setup",
]

_moved.install()


def __getattr__(name: str) -> object:
    """A flat module name from before the packages (``helpers.viz``), with a DeprecationWarning."""
    return _moved.moved_attribute(name)


def setup(seed: int = 0, device: str = "auto", figsize: tuple[float, float] = (8.0, 4.0)) -> None:
    """Prepare a notebook: seeds, figure defaults, a CJK font, float32 on a GPU, one status line.

    The printed line says which model source the notebook will use (bundled or
    torchvision, from ``$CH9_MODEL_SOURCE`` or what is cached) and the device.
    In a kernel, freed memory goes back to the system after every cell
    (:func:`helpers.memory.release_after_cells`).

    """
    import matplotlib

    from .draw.fonts import setup_cjk_font
    from .models.sources import torchvision_weight_path

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    matplotlib.rcParams.update({"figure.figsize": figsize, "figure.dpi": 100,
                                "savefig.dpi": 100, "image.interpolation": "nearest"})
    setup_cjk_font()
    # Full float32 on a GPU. PyTorch's default lets cuDNN convolutions use TF32 (10-bit mantissa):
    # pixel attributions of the bundled model then differed from the CPU's by up to 0.29 on a
    # [0, 1] map (correlation 0.994); in float32 by 7e-3 at most (scripts/cuda_check.py, H200).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    from .memory import release_after_cells

    release_after_cells()
    source = os.environ.get(models.ENV_SOURCE) or "auto"
    if source == "auto":
        cached = [n for n in ("vgg16_bn", "resnet18") if torchvision_weight_path(n).is_file()]
        detail = f"auto: torchvision weights cached for {cached}" if cached else \
            "auto: torchvision weights if downloadable, else bundled"
    else:
        detail = f"{source} (set by {models.ENV_SOURCE})"
    print(f"model source: {detail} · device: {get_device(device).type}")
