"""Peer libraries of the comparison tests: skipped where absent, a failure under ``CI=true``.

The peers (grad-cam, torchcam, captum, zennit, timm) are pinned in requirements.txt.
A developer without one still runs the rest of the suite; CI must not silently drop a
comparison, so there a missing peer raises ``ImportError`` (the test module fails).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    """Whether ``CI`` is set to a true value (``1``, ``true``, ``yes``), as CI services do."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(module: str) -> ModuleType:
    """Import a peer library: ``pytest.importorskip`` locally, a plain import under ``CI=true``."""
    if in_ci():
        return importlib.import_module(module)
    return pytest.importorskip(module)
