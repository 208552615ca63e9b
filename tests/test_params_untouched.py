"""No public helper writes to a model's parameters, so memory-mapped weights stay shared.

After each call: every parameter and buffer equals its value before, no ``.grad``
was left, ``requires_grad`` and train/eval are as they were, and the tensors are
still the ones loaded from the file (same storage: nothing was replaced by a copy).
"""

from __future__ import annotations

import pytest
import torch

from helpers import attribution, cam, hooks, load_image, registry, widgets
from helpers.toy import world as shapes

OPTIONS = {"score_cam": {"max_channels": 4}, "smoothgrad": {"samples": 2},
           "integrated_gradients": {"steps": 2}, "occlusion": {"window": 112}, "rise": {"count": 4}}


def _snapshot(model: torch.nn.Module) -> dict:
    return {n: (t.detach().clone(), t.data_ptr()) for n, t in model.state_dict().items()}


def _assert_untouched(model: torch.nn.Module, before: dict, what: str) -> None:
    for name, t in model.state_dict().items():
        value, ptr = before[name]
        assert torch.equal(t, value), f"{what} changed {name}"
        assert t.data_ptr() == ptr, f"{what} replaced {name} (the shared pages are lost)"
    assert all(p.grad is None for p in model.parameters()), f"{what} left a .grad"
    assert all(p.requires_grad for p in model.parameters()), f"{what} froze a parameter"
    assert not model.training and hooks.count_hooks(model) == 0, what


@pytest.fixture(scope="module")
def bundled():
    from helpers import load_model

    return load_model("efficientnet_lite0", source="bundled", device="cpu")


def test_bundled_model_after_every_public_helper(bundled) -> None:
    model, x = bundled.model, bundled.to_input(load_image("cat"))
    before = _snapshot(model)
    calls = {f"{e.family}.{e.name}": (lambda n=e.name: registry.explain(
        n, model, x, layer=bundled.cam_layer, **OPTIONS.get(n, {})))
        for e in registry.entries()}
    assert len(calls) == len(cam.METHODS) + len(attribution.ATTRIBUTIONS)  # every method
    calls["cam.class_weight_cam"] = lambda: cam.class_weight_cam(
        model, bundled.cam_layer, bundled.classifier_weight, x)
    calls["hooks.capture_activations"] = lambda: hooks.capture_activations(
        model, x, bundled.feature_layers[:3])
    calls["widgets.cam_explorer"] = lambda: widgets.cam_explorer(bundled, "cat").render()
    calls["widgets.feature_map_explorer"] = lambda: widgets.feature_map_explorer(
        bundled, "cat").render()
    for what, call in calls.items():
        call()
        _assert_untouched(model, before, what)


def test_shapes_networks_stay_as_loaded() -> None:
    batch = shapes.make_batch(2, seed=5)
    for kind in ("vgg", "gap"):
        net = shapes.load_net(kind)
        before = _snapshot(net)
        for e in registry.entries():  # every registered method, of both families
            opts = {**OPTIONS, "occlusion": {"window": 32}}.get(e.name, {})  # 64 x 64 images
            registry.explain(e.name, net, batch.images, layer=shapes.target_layer(net), **opts)
            _assert_untouched(net, before, f"{kind}: {e.family}.{e.name}")
