"""The shipped toy nets of known reasoning and the ``vgg`` head variants (data/models/)."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

from helpers import cam
from helpers.toy import nets as shapenets, world as shapes
from helpers.toy import markers, variants
from helpers.toy.pool import MaxPool2d
from helpers.trust import reliance

HELDOUT_SEED = 2  # never used by the training scripts (training seed 0, their held-out seed 1)


@pytest.fixture(scope="module")
def linear_net() -> torch.nn.Module:
    return variants.load_toy_net("vgg_linear")


def test_shipped_files_are_the_recorded_ones():
    for kind, digest in variants.WEIGHT_SHA256.items():
        data = (shapenets.MODEL_DIR / f"{kind}.pt").read_bytes()
        assert hashlib.sha256(data).hexdigest().startswith(digest), kind


def test_flat_variant_with_pool_and_hidden_is_vgg_layer_for_layer():
    vgg, flat = shapenets.ShapesVGG(), variants.ShapesFlat(pool=True, hidden=128)
    assert [type(m) for m in vgg.modules()][1:] == [type(m) for m in flat.modules()][1:]
    assert {k: v.shape for k, v in vgg.state_dict().items()} == \
        {k: v.shape for k, v in flat.state_dict().items()}
    assert isinstance(variants.build_toy_net("marker_hans"), shapenets.ShapesGAP)
    with pytest.raises(ValueError, match="unknown toy network"):
        variants.build_toy_net("vgg")


def test_hires_cam_decomposes_the_logit_of_the_one_linear_head(linear_net):
    """sum of HiRes-CAM's map before ReLU + bias = logit, every class of 20 images."""
    x = shapes.make_batch(20, HELDOUT_SEED).images
    with torch.no_grad():
        logits = linear_net(x)  # (20, 6), from the forward pass alone
    bias = linear_net.classifier[-1].bias.detach()
    for y in range(6):
        res = cam.hires_cam(linear_net, shapes.target_layer(linear_net), x, [y] * 20)
        total = torch.as_tensor(res.raw).sum(dim=(1, 2)) + bias[y]  # (20,)
        torch.testing.assert_close(total, logits[:, y], atol=1e-4, rtol=0)


def test_grad_cam_weights_of_the_one_linear_head_are_the_mean_weights(linear_net):
    x = shapes.make_batch(3, HELDOUT_SEED).images
    w = linear_net.classifier[-1].weight.detach().view(6, 32, 8, 8)
    for y in (0, 5):
        res = cam.grad_cam(linear_net, shapes.target_layer(linear_net), x, [y] * 3)
        torch.testing.assert_close(torch.as_tensor(res.weights),
                                   w[y].mean(dim=(1, 2)).expand(3, 32), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", list(variants.HEADS))
def test_head_variants_classify_held_out_shapes(kind):
    b = shapes.make_batch(300, HELDOUT_SEED)
    pred = shapenets.predict_classes(variants.load_toy_net(kind), b.images)[:, 0]
    assert float((pred == b.labels[:, 0]).float().mean()) >= 0.98


@pytest.fixture(scope="module")
def tables() -> dict:
    w = markers.make_marker_batch(200, HELDOUT_SEED, agree=True)
    return {k: reliance.reliance_table(variants.load_toy_net(k), w.images, w.shape_labels,
                                       w.shape_masks, w.marker_masks) for k in variants.MARKER_NETS}


def test_clever_hans_net_needs_the_marker_and_not_the_shape(tables):
    t = tables["marker_hans"]
    assert t["original"]["accuracy"] >= 0.98 and t["control"]["accuracy"] >= 0.98
    assert t["no shape"]["accuracy"] >= 0.98
    assert t["no marker"]["accuracy"] <= 0.35
    assert reliance.used_regions(t) == ["marker"]


def test_shape_net_needs_the_shape_and_not_the_marker(tables):
    t = tables["marker_shape"]
    assert t["original"]["accuracy"] >= 0.98 and t["control"]["accuracy"] >= 0.95
    assert t["no marker"]["accuracy"] >= 0.95
    assert t["no shape"]["accuracy"] <= 0.35
    assert reliance.used_regions(t) == ["shape"]


@pytest.mark.parametrize("kind,label", [("marker_shape", "shape"), ("marker_hans", "marker")])
def test_marker_nets_learn_their_own_task(kind, label):
    b = markers.make_marker_batch(300, HELDOUT_SEED, agree=False)
    y = b.marker_labels if label == "marker" else b.shape_labels
    pred = shapenets.predict_classes(variants.load_toy_net(kind), b.images)[:, 0]
    assert float((pred == y).float().mean()) >= 0.98


@pytest.mark.parametrize("size", [(64, 64), (8, 6), (7, 7), (9, 8)])
def test_toy_max_pool_equals_torchs_with_and_without_gradients(size):
    """Values and gradients equal ``nn.MaxPool2d(2)`` bit for bit, ties included (the toy images'
    flat regions give equal activations in a window); odd sizes fall back to torch's own."""
    torch.manual_seed(0)
    x = torch.relu(torch.randn(3, 5, *size)).round()  # many ties, at 0 and between positives
    ours, torchs = MaxPool2d(2), nn.MaxPool2d(2)
    with torch.no_grad():
        assert torch.equal(ours(x), torchs(x))
        assert torch.equal(ours(x[0]), torchs(x[0]))  # (C, H, W)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    grad = torch.randn_like(torchs(x))
    ours(a).backward(grad)
    torchs(b).backward(grad)
    assert torch.equal(a.grad, b.grad) and int((a.grad != 0).sum()) > 0
    assert repr(ours) == repr(torchs)


def test_toy_max_pool_keeps_torchs_other_settings():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    for kwargs in ({"kernel_size": 3}, {"kernel_size": 2, "stride": 1},
                   {"kernel_size": 2, "padding": 1}, {"kernel_size": 2, "ceil_mode": True}):
        with torch.no_grad():
            assert torch.equal(MaxPool2d(**kwargs)(x), nn.MaxPool2d(**kwargs)(x)), kwargs
    _, where = MaxPool2d(2, return_indices=True)(x)
    assert torch.equal(where, nn.MaxPool2d(2, return_indices=True)(x)[1])


def test_every_toy_net_pools_with_the_fast_pool_and_gives_torchs_logits():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 64, 64)
    nets = (shapenets.ShapesVGG(), shapenets.ShapesGAP(), variants.build_toy_net("vgg_pool_linear"))
    for net in (n.eval() for n in nets):
        pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d)]
        assert pools and all(type(m) is MaxPool2d for m in pools)
        with torch.no_grad():
            fast = net(x)
            for m in pools:
                m.forward = nn.MaxPool2d.forward.__get__(m)  # torch's own kernel
            assert torch.equal(fast, net(x))
