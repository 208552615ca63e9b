"""The one contract of targets: an index, one per image, or a callable on the logits.

Each form is checked against a hand-written ``torch.autograd.grad`` of the score it
names, for a CAM method (Grad-CAM's channel weights are the mean gradient at the layer)
and for an attribution (saliency is the gradient at the input).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import attribution, cam, contract

FORMS = {
    "one index": (2, lambda lg: lg[:, 2]),
    "one per image": ([1, 3, 4], lambda lg: lg[torch.arange(3), torch.tensor([1, 3, 4])]),
    "callable on the logits": (lambda lg: lg[:, 3] - lg[:, 1], lambda lg: lg[:, 3] - lg[:, 1]),
    "one callable per image": ([lambda row: row[0] - row[2], 4, lambda row: row.logsumexp(0)],
                               lambda lg: torch.stack([lg[0, 0] - lg[0, 2], lg[1, 4],
                                                       lg[2].logsumexp(0)])),
}


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("form", list(FORMS))
def test_grad_cam_of_each_target_form_is_the_hand_written_gradient(form, tiny_net, batch):
    target, score = FORMS[form]
    leaf = tiny_net.features(batch.clone()).detach().requires_grad_(True)  # (N, 16, 16, 16)
    logits = tiny_net.fc(torch.flatten(tiny_net.pool(leaf.clone()), 1))
    (g,) = torch.autograd.grad(score(logits).sum(), leaf)
    res = cam.grad_cam(tiny_net, tiny_net.features[6], batch, target)
    torch.testing.assert_close(res.weights, g.mean(dim=(2, 3)), rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in tiny_net.parameters())


@pytest.mark.parametrize("form", list(FORMS))
def test_saliency_of_each_target_form_is_the_hand_written_gradient(form, tiny_net, batch):
    target, score = FORMS[form]
    x = batch.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(score(tiny_net(x)).sum(), x)
    res = attribution.saliency(tiny_net, batch, target)
    torch.testing.assert_close(res.raws, g, rtol=1e-4, atol=1e-6)
    want = [2] * 3 if form == "one index" else [1, 3, 4] if form == "one per image" else \
        [None] * 3 if form == "callable on the logits" else [None, 4, None]
    assert res.targets == want


def test_a_callable_target_explains_a_difference_of_classes_in_every_attribution(tiny_net,
                                                                                 batch):
    """Occlusion with a callable: the score drop of ``y_3 - y_1``, by hand for one patch."""
    diff = lambda lg: lg[:, 3] - lg[:, 1]  # noqa: E731
    res = attribution.occlusion(tiny_net, batch[:1], diff, window=32, baseline=0.0)
    with torch.no_grad():
        drop = diff(tiny_net(batch[:1])) - diff(tiny_net(torch.zeros_like(batch[:1])))
    np.testing.assert_allclose(res.raws[0, 0].numpy(), float(drop), rtol=1e-5)


def test_bad_targets_are_named(tiny_net, batch):
    with pytest.raises(ValueError, match="2 entries but x holds 3"):
        contract.targets_from([1, 2], 3)
    with pytest.raises(TypeError, match="integer"):
        contract.targets_from([1, 2.0, 3], 3)
    with pytest.raises(ValueError, match=r"scores \(3,\)"):
        cam.grad_cam(tiny_net, tiny_net.features[6], batch, lambda lg: lg)  # (N, classes)
    with pytest.raises(IndexError, match="out of range"):
        attribution.saliency(tiny_net, batch, 5)


def test_one_image_request_drops_the_axis_in_both_families_and_a_list_keeps_it(tiny_net,
                                                                             batch):
    one = batch[:1]
    for res in (cam.grad_cam(tiny_net, "features.6", one, 2), attribution.saliency(tiny_net, one, 2)):
        assert res.cam.shape == (32, 32) and res.class_idx == 2 and res.maps.shape == (1, 32, 32)
    for res in (cam.grad_cam(tiny_net, "features.6", one, [2]),
                attribution.saliency(tiny_net, one, [2])):
        assert res.cam.shape == (1, 32, 32) and res.class_idx == [2]
    many = attribution.saliency(tiny_net, batch, [1, 3, 4])
    assert many[1].maps.shape == (1, 32, 32) and many[1].map.shape == (32, 32)
    np.testing.assert_array_equal(many[1].map, many.maps[1])
    with pytest.raises(IndexError):
        many[3]
