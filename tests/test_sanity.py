"""Model randomization (caller's model untouched), Spearman against SciPy, SSIM by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from helpers.trust import sanity


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed_blocks(model, randomized, names):
    out = []
    for name in names:
        a = model.get_submodule(name).state_dict()
        b = randomized.get_submodule(name).state_dict()
        if any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point()):
            out.append(name)
    return out


def test_blocks_top_down_of_the_tiny_net(tiny_net):
    # features.2 (ReLU) and features.3 (MaxPool) hold no parameters.
    assert sanity.blocks_top_down(tiny_net) == ["fc", "features.5", "features.4", "features.1",
                                                "features.0"]


def test_cascading_randomization_accumulates_and_leaves_the_model_alone(tiny_net, tiny_input):
    before = snapshot(tiny_net)
    logits = tiny_net(tiny_input).detach()
    names = sanity.blocks_top_down(tiny_net)
    seen = []
    for i, (name, rnd) in enumerate(sanity.cascading_randomization(tiny_net, seed=3)):
        seen.append(name)
        assert rnd is not tiny_net and not rnd.training
        assert changed_blocks(tiny_net, rnd, names) == names[: i + 1]
        assert not torch.allclose(rnd(tiny_input), logits)
    assert seen == names
    after = snapshot(tiny_net)
    assert all(torch.equal(before[k], after[k]) for k in before)
    torch.testing.assert_close(tiny_net(tiny_input), logits, rtol=0, atol=0)


def test_independent_randomization_changes_one_block_at_a_time(tiny_net):
    names = sanity.blocks_top_down(tiny_net)
    for name, rnd in sanity.cascading_randomization(tiny_net, cascade=False):
        assert changed_blocks(tiny_net, rnd, names) == [name]


def test_randomization_is_seeded_and_untouched_after_an_exception(tiny_net):
    before = snapshot(tiny_net)
    a = [snapshot(m) for _, m in sanity.cascading_randomization(tiny_net, ["fc"], seed=1)][0]
    b = [snapshot(m) for _, m in sanity.cascading_randomization(tiny_net, ["fc"], seed=1)][0]
    c = [snapshot(m) for _, m in sanity.cascading_randomization(tiny_net, ["fc"], seed=2)][0]
    assert torch.equal(a["fc.weight"], b["fc.weight"])
    assert not torch.equal(a["fc.weight"], c["fc.weight"])
    with pytest.raises(RuntimeError, match="stop"):
        for _ in sanity.cascading_randomization(tiny_net):
            raise RuntimeError("stop")
    assert all(torch.equal(before[k], v) for k, v in snapshot(tiny_net).items())


def test_a_parameter_without_reset_is_redrawn():
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = torch.nn.Parameter(torch.full((4,), 2.0))

        def forward(self, x):
            return x * self.s

    m = torch.nn.Sequential(Scale())
    _, rnd = next(sanity.cascading_randomization(m))
    assert not torch.equal(rnd[0].s, m[0].s) and torch.equal(m[0].s, torch.full((4,), 2.0))


def test_unknown_block_gets_a_clear_error(tiny_net):
    with pytest.raises(ValueError, match="no submodule named 'head'.*fc"):
        next(sanity.cascading_randomization(tiny_net, ["head"]))


# ---------------------------------------------------------------------------- Spearman ---


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_of_maps_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, size=(9, 11)).astype(float)  # many ties
    b = a + rng.integers(0, 4, size=(9, 11))
    expected = stats.spearmanr(a.ravel(), b.ravel()).statistic
    assert sanity.spearman(a, b) == pytest.approx(expected, abs=1e-12), f"seed {seed}"


def test_spearman_by_hand():
    assert sanity.spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert sanity.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1, 2, 3) and (1.5, 1.5, 3): Pearson = 1.5 / sqrt(2 * 1.5)
    assert sanity.spearman([1, 2, 3], [5, 5, 9]) == pytest.approx(1.5 / np.sqrt(3.0))
    assert np.isnan(sanity.spearman(np.zeros((4, 4)), np.eye(4)))


# -------------------------------------------------------------------------------- SSIM ---


def brute_ssim(x: np.ndarray, y: np.ndarray, sigma=1.5, k1=0.01, k2=0.03, L=1.0) -> float:
    """Window by window with explicit weighted sums, as Wang et al. 2004 write it."""
    r = 5
    t = np.arange(-r, r + 1)
    w = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    w /= w.sum()
    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
    vals = []
    for i in range(r, x.shape[0] - r):
        for j in range(r, x.shape[1] - r):
            px, py = x[i - r:i + r + 1, j - r:j + r + 1], y[i - r:i + r + 1, j - r:j + r + 1]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            num = (2 * mx * my + c1) * (2 * cxy + c2)
            vals.append(num / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_the_window_by_window_definition(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((14, 17))
    y = np.clip(x + 0.3 * rng.normal(size=x.shape), 0, 1)
    assert sanity.ssim(x, y) == pytest.approx(brute_ssim(x, y), abs=1e-10), f"seed {seed}"
    assert sanity.ssim(x, y) == pytest.approx(sanity.ssim(y, x), abs=1e-12)


def test_ssim_by_hand():
    x = np.random.default_rng(0).random((12, 12))
    assert sanity.ssim(x, x) == pytest.approx(1.0)
    # Two constant maps a, b: no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 0.2, 0.6, 0.01**2
    assert sanity.ssim(np.full((12, 12), a), np.full((12, 12), b)) == \
        pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))
    assert sanity.ssim(x, 1 - x) < 0  # an inverted map is anti-similar


def test_map_comparisons_reject_bad_input():
    with pytest.raises(ValueError, match="different shapes"):
        sanity.spearman(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        sanity.ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        sanity.ssim(np.full((12, 12), np.nan), np.zeros((12, 12)))
