"""Weight files: load them safely, say which file a model came from, build a model from them.

``torch.load(weights_only=True)`` for every file, a SHA-256 prefix printed for each, and a
warning when a torchvision file's name promises another hash. Split out of
:mod:`helpers.models.sources`, which re-exports these names.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HASH_CHARS = 12  # SHA-256 prefix printed for every weight file
_TORCHVISION_NAME = re.compile(r"-([0-9a-f]{8,})\.pth$")  # torchvision: <arch>-<sha256 prefix>.pth
_hashes: dict[tuple[str, int, int], str] = {}
_warned: set[str] = set()


@dataclass(frozen=True)
class WeightInfo:
    """Which weight file a model came from.

    Attributes:
        path: the file.
        sha256: the file's SHA-256 (hex).
        expected: the SHA-256 prefix its publisher states (torchvision puts it in the
            file name), or ``None`` when nobody publishes one.
    """

    path: Path
    sha256: str
    expected: str | None = None

    @property
    def matches(self) -> bool | None:
        """``True``/``False`` against the published hash; ``None`` when there is none."""
        return None if self.expected is None else self.sha256.startswith(self.expected)

    def describe(self) -> str:
        """One line: file, SHA-256 prefix, and whether it is the published file."""
        check = {True: "matches the published hash", False: "does NOT match the published hash",
                 None: "no published hash"}[self.matches]
        return f"weights: {self.path.name} · sha256 {self.sha256[:HASH_CHARS]} ({check})"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, computed once per process for a given size and mtime."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                digest.update(chunk)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def weight_info(path: Path, expected: str | None = None) -> WeightInfo:
    """Describe a weight file; warn once when it differs from the published file.

    For a torchvision file (``vgg16_bn-6c64b313.pth``) the expected prefix is read
    from its name, as torch.hub's ``check_hash`` does.
    """
    path = Path(path)
    if expected is None and (m := _TORCHVISION_NAME.search(path.name)):
        expected = m.group(1)
    info = WeightInfo(path, sha256_of(path), expected)
    if info.matches is False and str(path) not in _warned:
        _warned.add(str(path))
        warnings.warn(f"{path} is not the file its name promises (sha256 {info.sha256[:8]}, "
                      f"expected {expected}): corrupted, or a stand-in. Results that depend on "
                      f"the trained weights will differ.", stacklevel=3)
    return info


def load_weights(path: Path) -> dict[str, Any]:
    """``torch.load(path, mmap=True, weights_only=True)`` on the CPU.

    With ``mmap`` the tensors stay in the page cache, shared by every kernel on a
    server that loads the same file, instead of one private copy per kernel.
    Files in torch's legacy (pre-zip) format cannot be mapped; they are read
    normally.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def build_with_weights(factory: Callable[[], Any], state: dict[str, Any]) -> Any:
    """Build a module without allocating its parameters, then take ``state``'s tensors as they are.

    ``factory`` runs on the meta device; ``load_state_dict(..., assign=True)``
    then makes the (memory-mapped) tensors of ``state`` the parameters and buffers,
    so nothing is copied. Every key must match (``strict``).

    Raises:
        RuntimeError: missing or unexpected keys, or a tensor left on the meta device.
    """
    import torch

    with torch.device("meta"):
        model = factory()
    model.load_state_dict(state, strict=True, assign=True)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"no weights for {left[:5]} in the file")
    return model
