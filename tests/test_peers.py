"""The peer libraries are declared, and a missing one fails under CI=true instead of skipping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from peers import in_ci, require

ROOT = Path(__file__).resolve().parents[1]
# distribution name in requirements.txt -> the module the comparison tests import
PEERS = {"grad-cam": "pytorch_grad_cam", "torchcam": "torchcam", "captum": "captum",
         "zennit": "zennit", "timm": "timm"}


def test_every_peer_is_pinned_in_requirements():
    text = (ROOT / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", text, flags=re.M))
    missing = sorted(set(PEERS) - set(pins))
    assert not missing, f"peer libraries not pinned in requirements.txt: {missing}"
    assert "-r requirements.txt" in (ROOT / "environment.yml").read_text()


def test_a_missing_peer_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception):
        require("no_such_peer_library_ch9")
    for value in ("true", "1", "TRUE"):
        monkeypatch.setenv("CI", value)
        assert in_ci()
        with pytest.raises(ImportError):
            require("no_such_peer_library_ch9")


@pytest.mark.parametrize("module", sorted(PEERS.values()))
def test_the_peer_imports(module):
    assert require(module).__name__ == module
