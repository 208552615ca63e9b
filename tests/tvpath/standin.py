"""The textbook's torchvision path with stand-in weights, for tests/tvpath and tests/editions.

The weight files are seeded random weights saved under torchvision's file names
in a temporary TORCH_HOME (scripts/standin_weights.py), so nothing is downloaded
and the user's own torch cache is never touched.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A notebook is on the path when it loads a classifier without pinning the source.
FOLLOWS_SOURCE = re.compile(r"load_model\((?![^)]*source=)")


def follows_source(notebook: Path) -> bool:
    return bool(FOLLOWS_SOURCE.search(notebook.with_suffix(".py").read_text(encoding="utf-8")))


def write_torch_home(home: Path) -> Path:
    spec = importlib.util.spec_from_file_location("standin", ROOT / "scripts/standin_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_standin_weights(home)
    return home


def shared_torch_home() -> Path:
    """One stand-in TORCH_HOME for every test process (``build/standin-torch-home-<torchvision>``).

    The weights take about 8 s and 570 MB to write; the xdist workers of a run, and later
    runs, share them (each file written once, under a lock, and renamed into place).
    """
    import torchvision

    home = ROOT / "build" / f"standin-torch-home-{torchvision.__version__}"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return write_torch_home(home)


def user_checkpoints() -> set[str]:
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch/hub/checkpoints"
    return {p.name for p in home.glob("*")} if home.is_dir() else set()


def check_torchvision_run(name: str, text: str) -> None:
    """What a run on the torchvision path must have printed (its stream outputs, joined)."""
    assert "(torchvision weights)" in text, f"{name} never said it used the torchvision weights"
    assert "does NOT match the published hash" in text, f"{name} did not flag the stand-in file"
