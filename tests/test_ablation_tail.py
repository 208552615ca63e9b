"""Ablation-CAM's two paths: the network after the layer only ("tail"), or all of it ("full").

Oracles: the full-forward path (the whole network on copies of the image while
:class:`helpers.hooks.Replace` zeroes one channel, as pytorch-grad-cam does it), the
model itself (``tail(layer output) == model(x)``), and a network split by hand where
the cut is not exact (a skip connection around the layer).
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from helpers import cam, load_model
from helpers.cam import ablation, engine
from helpers.cam.tail import layer_tail
from helpers.hooks import capture_activations, count_hooks
from helpers.models import describe_torchvision, imagenet_categories
from helpers.toy import nets, variants, world


def _clean(model: nn.Module) -> None:
    assert count_hooks(model) == 0 and all(p.grad is None for p in model.parameters())


def _both(model, layer, x, classes, **kw):
    tail = cam.ablation_cam(model, layer, x, classes, path="tail", **kw)
    full = cam.ablation_cam(model, layer, x, classes, path="full", **kw)
    assert (tail.settings["path"], full.settings["path"]) == ("tail", "full")
    _clean(model)
    return tail, full


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return describe_torchvision("resnet18", torchvision.models.resnet18(weights=None),
                               imagenet_categories())


@pytest.fixture(scope="module")
def vgg16_bn():
    torch.manual_seed(0)
    net = torchvision.models.vgg16_bn(weights=None, num_classes=10)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, so eval mode matters
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return describe_torchvision("vgg16_bn", net, [f"c{i}" for i in range(10)])


@pytest.mark.parametrize("kind", ["vgg", "gap", "vgg_nopool", "marker_hans"])
def test_tail_path_equals_full_path_on_the_toy_nets(kind):
    net = variants.load_toy_net(kind) if kind in variants.TOY_KINDS else nets.load_net(kind)
    x = world.make_batch(3, seed=4).images
    tail, full = _both(net, nets.target_layer(net), x, [0, 2, 5], batch_size=10)
    torch.testing.assert_close(tail.weights, full.weights, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.as_tensor(tail.maps), torch.as_tensor(full.maps),
                               rtol=1e-4, atol=1e-4)
    assert cam.ablation_cam(net, nets.target_layer(net), x).settings["path"] == "tail"  # auto


def test_tail_path_equals_full_path_on_resnet18_layer4(resnet18):
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    diff = lambda logits: logits[:, 7] - logits[:, 3]  # noqa: E731  a callable target too
    tail, full = _both(resnet18.model, resnet18.cam_layer, x, diff, batch_size=128)
    # w = (y - y_k) / y with a small y (0.07 here): the full path computes layer4 in batches of
    # 128 copies, the engine for one image, so float sums differ (measured: 7e-6 of max |w|)
    scale = float(full.weights.abs().max())
    torch.testing.assert_close(tail.weights, full.weights, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("which", ["bundled", "resnet18", "vgg16_bn"])
def test_tail_is_the_network_after_the_layer(which, request):
    """``tail(A) == model(x)``, and ablated copies score alike on both paths (8 of them)."""
    b = (load_model("efficientnet_lite0", source="bundled", device="cpu") if which == "bundled"
         else request.getfixturevalue(which))
    model, gen = b.model, torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 64, 64, generator=gen)
    for layer in dict.fromkeys([b.cam_layer_name, b.gradcam_layer_name]):  # VGG: two layers
        tail, reason = layer_tail(model, layer)
        assert tail is not None, reason
        acts = capture_activations(model, x, {layer: model.get_submodule(layer)})[layer]
        with torch.no_grad():
            torch.testing.assert_close(tail(acts.clone()), model(x), rtol=1e-4, atol=1e-4)
            p, _ = engine.layer_pass(model, layer, x, 0, gradients=False)
            images = torch.randint(0, 2, (8,), generator=gen)
            chans = torch.randint(0, acts.shape[1], (8,), generator=gen)
            torch.testing.assert_close(ablation._tail_scorer(p, tail)(images, chans),
                                       ablation._full_scorer(p)(images, chans),
                                       rtol=1e-4, atol=1e-4)
        _clean(model)
    assert not any(isinstance(m, torch.fx.GraphModule) for m in model.modules())


def test_the_tail_path_does_not_run_the_layers_before(bundle):
    """One forward pass through the stem (the engine's), not one per batch of copies."""
    calls = []
    handle = bundle.model.conv_stem.register_forward_pre_hook(lambda m, i: calls.append(1))
    x = torch.randn(1, 3, 64, 64)
    try:
        res = cam.ablation_cam(bundle.model, "bn2", x, 1, batch_size=256)
        assert res.settings["path"] == "tail" and len(calls) == 1
    finally:
        handle.remove()
    _clean(bundle.model)


class SkipNet(nn.Module):
    """conv -> conv (the layer) -> + skip -> GAP -> linear: the cut at ``body`` is not exact."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(6, 4)

    def head(self, total: torch.Tensor) -> torch.Tensor:
        return self.fc(total.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.stem(x)
        return self.head(self.body(a) + a)


class Branchy(SkipNet):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.stem(x)
        return self.head(self.body(a) if float(a.mean()) > -1 else a)


class Twice(SkipNet):
    """The layer runs twice."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.body(self.stem(x))))


@pytest.mark.parametrize("cls, why", [(SkipNet, "skip connection"), (Branchy, "cannot trace"),
                                      (Twice, "called 2 times")])
def test_a_cut_that_is_not_exact_falls_back_to_the_full_path(cls, why):
    torch.manual_seed(0)
    net = cls().eval()
    x = torch.randn(2, 3, 8, 8)
    res = cam.ablation_cam(net, net.body, x, [1, 3], batch_size=4)
    assert res.settings["path"] == "full" and why in res.settings["path_reason"]
    with pytest.raises(ValueError, match=why):
        cam.ablation_cam(net, net.body, x, [1, 3], path="tail")
    _clean(net)
    if cls is SkipNet:  # the weights by hand: channel k of body's output zeroed, skip kept
        with torch.no_grad():
            a = net.stem(x)
            b = net.body(a)
            for i, c in enumerate([1, 3]):
                y = net.head(b + a)[i, c]
                for k in range(6):
                    bk = b.clone()
                    bk[:, k] = 0
                    assert torch.isclose(res.weights[i, k], (y - net.head(bk + a)[i, c]) / y,
                                         atol=1e-5)


def test_bad_path_and_batch_size(tiny_net, tiny_input):
    with pytest.raises(ValueError, match="path must be one of"):
        cam.ablation_cam(tiny_net, tiny_net.features[6], tiny_input, 0, path="fast")
    with pytest.raises(ValueError, match="batch_size"):
        cam.ablation_cam(tiny_net, tiny_net.features[6], tiny_input, 0, batch_size=0)
    _clean(tiny_net)
