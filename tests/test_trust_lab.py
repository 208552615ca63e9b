"""ROAD imputation against pytorch-grad-cam's, bootstrap intervals, curve rises, logit curves."""

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.road import NoisyLinearImputer, ROADMostRelevantFirst
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from scipy import stats
from torch import nn

from helpers.trust import bootstrap, faithfulness, imputation


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(6, 4)).eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_impute_matches_pytorch_grad_cam(seed, share):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(3, 13, 11, generator=g)
    keep = torch.rand(13, 11, generator=g) > share
    ref = NoisyLinearImputer(noise=0.0)(img, keep.float())
    ours = imputation.impute(img, keep, noise=0.0)
    assert torch.allclose(ours, ref, atol=1e-5), f"seed {seed}"
    assert torch.equal(ours[:, keep], img[:, keep])  # kept pixels untouched


def test_impute_fills_a_hole_in_a_linear_ramp_exactly():
    # A linear ramp is the mean of its neighbours everywhere: the imputation must restore it.
    ramp = torch.linspace(0, 1, 16).repeat(3, 16, 1)  # (3, 16, 16), varies along x
    keep = torch.ones(16, 16, dtype=torch.bool)
    keep[4:12, 5:10] = False
    assert torch.allclose(imputation.impute(ramp, keep, noise=0.0), ramp, atol=1e-6)


def test_impute_noise_and_empty_keep():
    img = torch.rand(3, 12, 12, generator=torch.Generator().manual_seed(3))
    none = torch.zeros(12, 12, dtype=torch.bool)
    flat = imputation.impute(img, none, noise=0.0)
    assert torch.allclose(flat, img.mean(dim=(1, 2), keepdim=True).expand_as(img), atol=1e-6)
    keep = torch.rand(12, 12, generator=torch.Generator().manual_seed(4)) > 0.5
    a, b = imputation.impute(img, keep, 0.1, seed=5), imputation.impute(img, keep, 0.0)
    resid = (a - b)[:, ~keep]
    assert 0.07 < float(resid.std()) < 0.13 and torch.equal(a[:, keep], img[:, keep])
    with pytest.raises(ValueError, match="keep"):
        imputation.impute(img, keep[:5], 0.0)


def test_imputed_deletion_curve_matches_road_most_relevant_first():
    model = tiny_model()
    x = torch.rand(1, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    cam = torch.randperm(100, generator=torch.Generator().manual_seed(1)).float().view(10, 10) / 100
    curve = imputation.imputed_deletion_curve(model, x, cam, class_idx=2, steps=10, noise=0.0)
    for k in range(1, 10):  # ROAD's MoRF at percentile q removes the top (100 - q) %
        metric = ROADMostRelevantFirst(percentile=100 - 10 * k)
        metric.perturbation.imputer.noise = 0.0
        ref = metric(x, cam[None].numpy(), [ClassifierOutputSoftmaxTarget(2)], model,
                     return_diff=False)
        assert curve.probs[k] == pytest.approx(float(ref[0]), abs=1e-5), f"step {k}"
    with torch.no_grad():
        assert curve.probs[0] == pytest.approx(float(model(x).softmax(1)[0, 2]), abs=1e-6)


def test_logit_score_is_the_log_of_the_probability_up_to_the_log_partition():
    model = tiny_model(1)
    x = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    sal = torch.rand(12, 12, generator=torch.Generator().manual_seed(3))
    p = faithfulness.deletion_curve(model, x, sal, 1, steps=6)
    z = faithfulness.deletion_curve(model, x, sal, 1, steps=6, score="logit")
    with torch.no_grad():  # the last point: the whole image is the zero substrate
        logits = model(torch.zeros_like(x))[0]
    assert z.probs[-1] == pytest.approx(float(logits[1]), abs=1e-5)
    assert p.probs[-1] == pytest.approx(float(logits.softmax(0)[1]), abs=1e-6)
    with pytest.raises(ValueError, match="score"):
        faithfulness.deletion_curve(model, x, sal, 1, steps=6, score="odds")


def test_bootstrap_ci_agrees_with_scipy_and_the_normal_interval():
    values = np.random.default_rng(7).normal(0.4, 0.2, size=300)
    mean, lo, hi = bootstrap.bootstrap_ci(values, resamples=4000, seed=1)
    ref = stats.bootstrap((values,), np.mean, method="percentile", n_resamples=4000,
                          random_state=1).confidence_interval
    assert mean == pytest.approx(values.mean())
    assert lo == pytest.approx(ref.low, abs=0.005) and hi == pytest.approx(ref.high, abs=0.005)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap.bootstrap_ci([0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="two values"):
        bootstrap.bootstrap_ci([0.1])


def test_rises():
    assert bootstrap.rises([0.9, 0.5, 0.6, 0.2, 0.2]).tolist() == [False, True, False, False]
    with pytest.raises(ValueError):
        bootstrap.rises([1.0])
