"""The stored results of ``scripts/make_channels_cache.py``, which notebook 9.1 reads.

Feature visualizations take seconds each and dissecting all channels of the three
toy nets on 500 images takes longer than a notebook cell should, so the script
runs them once and writes ``data/channels/``: ``results.json`` (settings, chosen
channels, scores, IoUs) and ``visualizations.npz`` (the images, uint8). The
notebook recomputes a subset live and checks it against these numbers.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .dissect import Dissection

CACHE_DIR = Path(__file__).resolve().parents[2] / "data" / "channels"
RESULTS, IMAGES = "results.json", "visualizations.npz"


def key(net: str, layer: str, index: int) -> str:
    """The name of one visualization in the cache: ``net|layer|index``."""
    return f"{net}|{layer}|{index}"


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(3, S, S)`` in [0, 1] -> ``(S, S, 3)`` uint8 (how images are stored)."""
    return (image.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def from_uint8(pixels: np.ndarray) -> torch.Tensor:
    """``(S, S, 3)`` uint8 -> ``(3, S, S)`` float in [0, 1]."""
    return torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()


def save(results: dict, images: dict[str, np.ndarray], directory: Path = CACHE_DIR) -> None:
    """Write ``results.json`` and ``visualizations.npz`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RESULTS).write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    np.savez_compressed(directory / IMAGES, **images)


def load(directory: Path = CACHE_DIR) -> tuple[dict, dict[str, torch.Tensor]]:
    """The stored results and visualizations (``{key: (3, S, S)}``).

    Raises:
        FileNotFoundError: the cache is missing; the message says how to make it.
    """
    path = directory / RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"no channel cache at {directory}; make it with: "
                                f"python scripts/make_channels_cache.py")
    with np.load(directory / IMAGES) as z:
        images = {k: from_uint8(z[k]) for k in z.files}
    return json.loads(path.read_text()), images


def dissection(results: dict, net: str, layer: str) -> Dissection:
    """One stored layer dissection as a :class:`Dissection`."""
    d = results["dissection"]["nets"][net][layer]
    return Dissection(layer=layer, concepts=tuple(results["dissection"]["concepts"]),
                      top=torch.tensor(d["top"], dtype=torch.float64),
                      thresholds=torch.tensor(d["thresholds"]), iou=torch.tensor(d["iou"]))
