"""Pointing game, energy inside the mask and class-discriminativeness on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers.trust import localization as lo


def square_mask(h=16, w=16, top=4, left=4, size=5) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[top:top + size, left:left + size] = True
    return m


def test_a_map_that_is_the_mask_hits_with_all_its_energy_inside():
    mask = square_mask()
    cam = mask.astype(np.float32)
    assert lo.pointing_game(cam, mask) is True
    assert lo.energy_in_mask(cam, mask) == 1.0
    assert lo.energy_in_mask(torch.from_numpy(cam), torch.from_numpy(mask)) == 1.0


def test_pointing_game_tolerance_by_hand():
    mask = square_mask()  # rows and columns 4..8
    cam = np.zeros((16, 16))
    cam[6, 11] = 1.0  # 3 pixels right of the mask's last column (8)
    assert not lo.pointing_game(cam, mask, tolerance=0)
    assert not lo.pointing_game(cam, mask, tolerance=2)
    assert lo.pointing_game(cam, mask, tolerance=3)
    cam[11, 11] = 0.5  # a lower second peak does not count
    assert lo.pointing_game(cam, mask, tolerance=3)
    cam[12, 12] = 1.0  # a tie with the first maximum: the first in row-major order counts
    assert lo.pointing_game(cam, mask, tolerance=3)


def test_a_flat_map_points_nowhere_and_has_no_energy():
    mask = square_mask()
    assert not lo.pointing_game(np.zeros((16, 16)), mask)
    assert not lo.pointing_game(np.full((16, 16), 0.7), mask)
    assert np.isnan(lo.energy_in_mask(np.zeros((16, 16)), mask))


def test_energy_by_hand():
    mask = square_mask()
    cam = np.zeros((16, 16))
    cam[5, 5:9] = 1.0  # 4 inside
    cam[0, :12] = 1.0  # 12 outside
    assert lo.energy_in_mask(cam, mask) == pytest.approx(4 / 16)
    cam[5, 5] = 5.0  # weights count: 8 inside, 20 in all
    assert lo.energy_in_mask(cam, mask) == pytest.approx(8 / 20)


def test_discrimination_by_hand():
    a, b = square_mask(top=1, left=1, size=4), square_mask(top=9, left=9, size=4)
    cam = np.zeros((16, 16))
    cam[2, 2], cam[10, 10], cam[0, 15] = 3.0, 1.0, 7.0  # 3 on A, 1 on B, 7 on neither
    assert lo.discrimination(cam, a, b) == pytest.approx(0.75)
    assert lo.discriminates(cam, a, b) is True
    assert lo.discrimination(cam, b, a) == pytest.approx(0.25)
    assert lo.discriminates(cam, b, a) is False
    off = np.zeros((16, 16))
    off[0, 15] = 1.0
    assert np.isnan(lo.discrimination(off, a, b)) and lo.discriminates(off, a, b) is False


def test_stacks_give_one_value_per_map():
    mask = square_mask()
    inside = mask.astype(float)
    outside = (~mask).astype(float)
    cams = np.stack([inside, outside, np.zeros((16, 16))])  # (3, H, W)
    masks = np.stack([mask] * 3)
    np.testing.assert_array_equal(lo.pointing_game(cams, masks), [True, False, False])
    np.testing.assert_allclose(lo.energy_in_mask(cams, masks), [1.0, 0.0, np.nan])
    grid = np.stack([cams, cams])  # (2, 3, H, W)
    assert lo.pointing_game(grid, np.stack([masks, masks])).shape == (2, 3)


@pytest.mark.parametrize("radius", [0, 1, 3, 15])
def test_dilate_matches_scipy_with_a_disk(radius):
    seed = 4 + radius
    rng = np.random.default_rng(seed)
    m = rng.random((2, 20, 23)) > 0.97
    r = np.arange(-radius, radius + 1)
    disk = (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2
    expected = np.stack([ndimage.binary_dilation(mi, structure=disk) if radius else mi for mi in m])
    np.testing.assert_array_equal(lo.dilate(m, radius), expected, err_msg=f"seed {seed}")


def test_bad_input_gets_clear_errors():
    cam = np.ones((16, 16))
    with pytest.raises(ValueError, match="mask of shape .* does not match the map"):
        lo.pointing_game(cam, np.ones((8, 8), dtype=bool))
    with pytest.raises(ValueError, match="does not match"):
        lo.energy_in_mask(np.ones((2, 16, 16)), square_mask())
    with pytest.raises(ValueError, match="mask_b of shape"):
        lo.discrimination(cam, square_mask(), np.ones((15, 16), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        lo.energy_in_mask(cam, np.full((16, 16), 0.5))
    with pytest.raises(ValueError, match="negative"):
        lo.energy_in_mask(-cam, square_mask())
    with pytest.raises(ValueError, match="NaN"):
        lo.pointing_game(np.full((16, 16), np.nan), square_mask())
    with pytest.raises(ValueError, match="radius"):
        lo.dilate(square_mask(), -1)
