"""helpers.arrays.minmax against a direct numpy computation, flat maps, per-channel dims."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.arrays import agreement, minmax


def test_matches_direct_formula_numpy_and_torch() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 7)).astype(np.float32)
    expected = (a - a.min()) / (a.max() - a.min())
    np.testing.assert_allclose(minmax(a), expected, rtol=1e-6)
    out = minmax(torch.from_numpy(a))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def test_flat_map_is_zero_not_nan() -> None:
    for a in (np.zeros((4, 4)), np.full((3, 3), 1e9) + 1e-6, torch.full((2, 2), 5.0)):
        out = minmax(a)
        assert float(abs(out).max()) == 0.0


def test_per_channel_dims() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 4, 4)).astype(np.float32)
    a[1] = 2.0  # a flat channel
    out = minmax(a, dims=(1, 2))
    for k in (0, 2):
        ch = a[k]
        np.testing.assert_allclose(out[k], (ch - ch.min()) / (ch.max() - ch.min()), rtol=1e-6)
    assert (out[1] == 0).all()
    t = minmax(torch.from_numpy(a), dims=(1, 2))
    np.testing.assert_allclose(t.numpy(), out, rtol=1e-6)


def test_integer_input_is_cast() -> None:
    out = minmax(np.array([0, 5, 10], dtype=np.uint8))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, np.nan]), torch.tensor([np.inf])])
def test_bad_input(bad) -> None:
    with pytest.raises(ValueError):
        minmax(bad)


def test_agreement_prints_the_bound_under_it_and_the_value_above_it() -> None:
    """The two values one 9.2.2 check printed on an AVX2 and on an AVX-512 machine print alike."""
    assert agreement(1.4e-06, 1e-05) == agreement(2.0e-06, 1e-05) == "below 1e-05"
    assert agreement(0.0, 1e-3) == "below 0.001"
    assert agreement(1e-05, 1e-05) == "1.0e-05"  # at the bound: not below it
    assert agreement(torch.tensor(0.25), 1e-05) == "2.5e-01"
    assert agreement(float("nan"), 1e-05) == "nan"


@pytest.mark.parametrize("bound", [0.0, -1e-5, float("nan")])
def test_agreement_refuses_a_bound_that_is_not_positive(bound) -> None:
    with pytest.raises(ValueError, match="positive"):
        agreement(1e-7, bound)
