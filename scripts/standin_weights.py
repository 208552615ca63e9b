"""Write stand-in weight files for the textbook's models into a torch hub cache.

The files have torchvision's exact names (``vgg16_bn-6c64b313.pth``,
``resnet18-f37072fd.pth``) but hold seeded random weights, so the torchvision
path (architecture, layer lists, hooks, shapes, explorers, exercises) runs
exactly as with the real weights, offline. Only what a *trained* model does
(top-1 classes, where a map peaks) differs. Never point this at your own cache.

Usage: ``python scripts/standin_weights.py TORCH_HOME`` (files go to
``TORCH_HOME/hub/checkpoints/``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torchvision import models as tvm

FILES = {"vgg16_bn": "vgg16_bn-6c64b313.pth", "resnet18": "resnet18-f37072fd.pth"}


def write_standin_weights(torch_home: Path, seed: int = 0) -> list[Path]:
    """Save seeded random state dicts under torchvision's file names; return the paths."""
    ckpt = Path(torch_home) / "hub" / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, filename in FILES.items():
        path = ckpt / filename
        if not path.is_file():  # written under another name first: a killed run leaves no half file
            torch.manual_seed(seed)
            part = path.with_name(f".{filename}.{os.getpid()}.part")
            torch.save(getattr(tvm, name)(weights=None).state_dict(), part)
            os.replace(part, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for p in write_standin_weights(Path(sys.argv[1])):
        print(p)
