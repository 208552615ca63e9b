"""CAM and Grad-CAM against independent computations, a peer library, and the hook rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from helpers import cam, load_image
from helpers.hooks import count_hooks
from helpers.models import describe_torchvision, imagenet_categories

CAT_CLASSES = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
CUP_CLASSES = ("cup", "espresso", "coffee mug")


def manual_grad_cam(net, k: int, x: torch.Tensor, c: int):
    """Grad-CAM on TinyGapNet by hand: split the network at features[k], no hooks at all."""
    a = net.features[: k + 1](x)  # (1, C, h, w)
    leaf = a.detach().requires_grad_(True)
    logits = net.fc(torch.flatten(net.pool(net.features[k + 1:](leaf.clone())), 1))
    (grads,) = torch.autograd.grad(logits[0, c], leaf)  # (1, C, h, w)
    weights = grads[0].mean(dim=(1, 2))  # (C,)
    return (weights[:, None, None] * leaf[0].detach()).sum(0), weights  # (h, w), (C,)


def expected_cam(raw: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    up = F.interpolate(raw.clamp(min=0)[None, None], size=size, mode="bilinear",
                       align_corners=False)[0, 0]
    if up.max() == up.min():  # nothing positive: a flat map
        return np.zeros(size, dtype=np.float32)
    return ((up - up.min()) / (up.max() - up.min())).numpy()


# ------------------------------------------------------------ tiny network ---


@pytest.mark.parametrize("k", [4, 5, 6])  # conv, BN followed by in-place ReLU, the last ReLU
def test_grad_cam_matches_hand_written_autograd(tiny_net, tiny_input, k):
    for c in range(5):
        res = cam.grad_cam(tiny_net, tiny_net.features[k], tiny_input, class_idx=c)
        raw, weights = manual_grad_cam(tiny_net, k, tiny_input, c)
        assert torch.allclose(res.raw, raw, atol=1e-6)
        assert torch.allclose(res.weights, weights, atol=1e-7)
        assert res.class_idx == c
        np.testing.assert_allclose(res.cam, expected_cam(raw, (32, 32)), atol=1e-5)


def test_cam_equals_grad_cam_times_hw_on_gap_linear(tiny_net, tiny_input):
    layer = tiny_net.features[6]  # the map that the pooling reads, (1, 16, 16, 16)
    for c in range(5):
        g = cam.grad_cam(tiny_net, layer, tiny_input, c)
        w = cam.class_weight_cam(tiny_net, layer, tiny_net.fc.weight, tiny_input, c)
        h, wd = g.raw.shape
        assert torch.allclose(w.raw, g.raw * (h * wd), atol=1e-5)  # the constant is 1/(h*w)
        assert torch.allclose(w.weights, tiny_net.fc.weight[c].detach())
        np.testing.assert_allclose(w.cam, g.cam, atol=1e-5)


def test_result_fields(tiny_net):
    x = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(3))  # not square
    res = cam.grad_cam(tiny_net, tiny_net.features[6], x)
    with torch.no_grad():
        logits = tiny_net(x)
    assert res.cam.dtype == np.float32 and res.cam.shape == (32, 48)
    assert res.cam.min() == 0.0 and res.cam.max() == pytest.approx(1.0)
    assert res.raw.shape == (16, 24) and not res.raw.requires_grad
    assert res.class_idx == int(logits.argmax()) and isinstance(res.class_idx, int)
    assert torch.allclose(res.probs, logits[0].softmax(0)) and res.probs.shape == (5,)


def test_flat_map_gives_zeros_not_nan(tiny_net, tiny_input):
    with torch.no_grad():
        tiny_net.fc.weight[2] = -tiny_net.fc.weight[2].abs()  # acts >= 0 after ReLU: raw <= 0
    res = cam.class_weight_cam(tiny_net, tiny_net.features[6], tiny_net.fc.weight, tiny_input, 2)
    assert (res.raw <= 0).all() and np.isfinite(res.cam).all() and (res.cam == 0).all()


def test_leaves_nothing_behind(tiny_net, tiny_input):
    tiny_net.fc.bias.requires_grad_(False)  # the caller's own choice must survive
    x = tiny_input.clone().requires_grad_(True)
    a = cam.grad_cam(tiny_net, "features.5", x, 1)
    b = cam.grad_cam(tiny_net, "features.5", x, 1)
    np.testing.assert_array_equal(a.cam, b.cam)  # same input, same map
    assert count_hooks(tiny_net) == 0
    assert all(p.grad is None for p in tiny_net.parameters()) and x.grad is None
    assert [p.requires_grad for p in tiny_net.parameters()] == [True] * 9 + [False]
    assert not tiny_net.training


@pytest.mark.parametrize("fn", ["grad", "cam"])
def test_errors_are_clear_and_leave_no_hooks(tiny_net, tiny_input, fn):
    def call(layer=tiny_net.features[6], x=tiny_input, c=None, weight=tiny_net.fc.weight):
        if fn == "grad":
            return cam.grad_cam(tiny_net, layer, x, c)
        return cam.class_weight_cam(tiny_net, layer, weight, x, c)

    cases = [
        (dict(c=5), IndexError, "out of range"),
        (dict(c=-1), IndexError, "out of range"),
        (dict(c=1.0), TypeError, "integer"),
        (dict(c=True), TypeError, "integer"),
        (dict(c="cat"), TypeError, "integer"),
        (dict(x=tiny_input[0]), ValueError, r"\(1, 3, H, W\)"),
        (dict(x=tiny_input.repeat(2, 1, 1, 1), c=[1, 2, 3]), ValueError, "3 entries.*2 images"),
        (dict(x=tiny_input.repeat(2, 1, 1, 1), c=[1, 7]), IndexError, "out of range"),
        (dict(x=tiny_input[:, :1]), ValueError, r"\(1, 3, H, W\)"),
        (dict(layer=nn.Conv2d(8, 16, 3)), ValueError, "not a submodule"),
        (dict(layer="features.99"), ValueError, "no submodule"),
        (dict(layer=tiny_net.fc), ValueError, "feature map"),
    ]
    if fn == "cam":
        cases.append((dict(layer=tiny_net.features[1]), ValueError, "channels"))
    for kwargs, err, match in cases:
        with pytest.raises(err, match=match):
            call(**kwargs)
        assert count_hooks(tiny_net) == 0
        assert all(p.requires_grad for p in tiny_net.parameters())
    assert int(call(c=np.int64(3)).class_idx) == 3 and int(call(c=torch.tensor(3)).class_idx) == 3


def test_exception_inside_forward_restores_model(tiny_net, tiny_input):
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    tiny_net.pool = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        cam.grad_cam(tiny_net, tiny_net.features[6], tiny_input)
    assert count_hooks(tiny_net) == 0 and all(p.requires_grad for p in tiny_net.parameters())


# -------------------------------------------------------- torchvision code ---


def test_torchvision_resnet18_path():
    torch.manual_seed(0)
    b = describe_torchvision("resnet18", torchvision.models.resnet18(weights=None),
                             imagenet_categories())
    x = torch.randn(1, 3, 64, 64)
    w = cam.class_weight_cam(b.model, b.cam_layer, b.classifier_weight, x, 7)
    g = cam.grad_cam(b.model, b.gradcam_layer, x, 7)
    assert w.raw.shape == (2, 2) and w.cam.shape == (64, 64)
    assert torch.allclose(w.raw, g.raw * 4, atol=1e-4)
    book = cam.class_weight_cam(b.model, b.model.layer4[1].bn2, b.classifier_weight, x, 7)
    assert not torch.allclose(book.raw, w.raw, atol=1e-3)  # before the residual add and ReLU
    assert count_hooks(b.model) == 0


# ------------------------------------------------------ the bundled model ---


@pytest.fixture(scope="module")
def cat_and_cup(bundle):
    return bundle.to_input(load_image("cat_and_cup"))  # (1, 3, 224, 224)


def test_bundled_cam_equals_grad_cam(bundle, cat_and_cup):
    model, layer = bundle.model, bundle.cam_layer
    for c in (None, bundle.categories.index("cup")):
        w = cam.class_weight_cam(model, layer, bundle.classifier_weight, cat_and_cup, c)
        g = cam.grad_cam(model, bundle.gradcam_layer, cat_and_cup, c)
        h, wd = g.raw.shape
        assert (h, wd) == (7, 7) and w.class_idx == g.class_idx
        assert torch.allclose(w.raw, g.raw * (h * wd), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(w.cam, g.cam, atol=1e-4)
    assert count_hooks(model) == 0 and all(p.grad is None for p in model.parameters())


def test_cat_and_cup_maps_land_on_different_objects(bundle, cat_and_cup):
    probs = cam.grad_cam(bundle.model, bundle.gradcam_layer, cat_and_cup).probs
    def best(names):
        return max((bundle.categories.index(n) for n in names), key=lambda k: probs[k])

    for fn in (cam.grad_cam, lambda m, layer, x, c: cam.class_weight_cam(
            m, layer, bundle.classifier_weight, x, c)):
        cat_map = fn(bundle.model, bundle.cam_layer, cat_and_cup, best(CAT_CLASSES)).cam
        cup_map = fn(bundle.model, bundle.cam_layer, cat_and_cup, best(CUP_CLASSES)).cam
        cat_col = np.unravel_index(cat_map.argmax(), cat_map.shape)[1]
        cup_col = np.unravel_index(cup_map.argmax(), cup_map.shape)[1]
        assert cat_col < 112 <= cup_col  # the cat is on the left, the cup on the right


def test_peer_library_agrees(bundle):
    """captum's LayerGradCam (pytorch-grad-cam and torchcam: see benchmarks/bench_gradcam.py)."""
    from captum.attr import LayerAttribution, LayerGradCam

    model, layer = bundle.model, bundle.gradcam_layer
    x = bundle.to_input(load_image("rocket"))
    ours = cam.grad_cam(model, layer, x)
    low = LayerGradCam(model, layer).attribute(x, target=ours.class_idx, relu_attributions=True)
    up = LayerAttribution.interpolate(low, (224, 224), "bilinear")[0, 0].detach().numpy()
    ours_low = ours.raw.clamp(min=0).numpy()  # (7, 7)
    assert np.corrcoef(low[0, 0].detach().numpy().ravel(), ours_low.ravel())[0, 1] >= 0.99
    assert np.corrcoef(up.ravel(), ours.cam.ravel())[0, 1] >= 0.99
    model.zero_grad(set_to_none=True)
    assert count_hooks(model) == 0
