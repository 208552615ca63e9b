"""``import torchvision`` without importing ``torch._dynamo`` (78 MiB per kernel and seconds).

torchvision 0.29's ``torchvision/ops/roi_align.py`` imports
``torch._dynamo.utils.is_compile_supported`` when torchvision is imported, which
loads all of ``torch._dynamo`` with sympy and mpmath: about 78 MiB of private
memory in every student kernel and several seconds of start-up
(benchmarks/RESULTS.md), though no notebook compiles anything. :func:`import_torchvision`
imports torchvision while ``torch._dynamo.utils`` is a stand-in whose
``is_compile_supported`` imports the real one when it is first called (only
``roi_align`` calls it), then removes the stand-in, so ``torch.compile`` and any
later ``import torch._dynamo`` get the real package.

Introduced for issue 24 (student kernels at most 400 MiB); ``helpers.models``
imports torchvision through it, so a notebook that imports ``helpers`` before
torchvision does not pay for ``torch._dynamo``.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import torch

_NAMES = ("torch._dynamo", "torch._dynamo.utils")


def is_compile_supported(device_type: Any) -> bool:
    """``torch._dynamo.utils.is_compile_supported``, imported (with all of torch._dynamo) on first call."""
    from torch._dynamo.utils import is_compile_supported as real

    return real(device_type)


def import_torchvision() -> types.ModuleType:
    """``import torchvision``; without loading ``torch._dynamo`` when neither was imported yet.

    Returns:
        the torchvision module.
    """
    if "torchvision" in sys.modules or "torch._dynamo" in sys.modules:
        import torchvision

        return torchvision
    package = types.ModuleType("torch._dynamo")
    package.__path__ = []  # a package with no files: any other submodule fails to import
    utils = types.ModuleType("torch._dynamo.utils")
    utils.is_compile_supported = is_compile_supported
    stand_ins = {"torch._dynamo": package, "torch._dynamo.utils": utils}
    sys.modules.update(stand_ins)
    try:
        import torchvision
    except ImportError:  # a torchvision that needs more of torch._dynamo: import it plainly
        _remove(stand_ins)
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        import torchvision
    finally:
        _remove(stand_ins)
    return torchvision


def _remove(stand_ins: dict[str, types.ModuleType]) -> None:
    for name, module in stand_ins.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]
    if torch.__dict__.get("_dynamo") is stand_ins["torch._dynamo"]:
        del torch._dynamo  # torch imports the real one on first use (its module __getattr__)
