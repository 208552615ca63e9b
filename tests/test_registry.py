"""The one registry: one error for an unknown name, labels, and the hook and parameter battery.

The battery iterates :func:`helpers.registry.entries`, so a method registered tomorrow
(in any family, from any file) is covered without editing this file: after each call,
and after a call that raises, no hook is left, no parameter changed or holds a ``.grad``,
and every ``requires_grad`` flag is as the caller left it.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import attribution, cam, registry
from helpers.hooks import count_hooks

LAYER = "features.6"
CLASSES = [1, 3, 4]
FAST = {"score_cam": {"max_channels": 4}, "smoothgrad": {"samples": 2},
        "integrated_gradients": {"steps": 2}, "occlusion": {"window": 16}, "rise": {"count": 8}}
"""Options that keep the slow methods fast on 32 x 32 images; a new method runs with its
defaults."""


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))


def test_unknown_names_get_one_error_that_lists_the_known_ones():
    for lookup in (lambda: registry.get("gradcam"), lambda: cam.METHODS["gradcam"],
                   lambda: attribution.ATTRIBUTIONS["gradcam"],
                   lambda: registry.explain("gradcam", None, None)):
        with pytest.raises(registry.UnknownMethodError, match="gradcam.*known: .*grad_cam"):
            lookup()
    assert issubclass(registry.UnknownMethodError, KeyError)  # callers of either kind
    assert issubclass(registry.UnknownMethodError, ValueError)  # still catch it


def test_views_are_the_registry_split_by_family():
    names = [e.name for e in registry.entries()]
    assert list(cam.METHODS) + list(attribution.ATTRIBUTIONS) == sorted(
        names, key=lambda n: (registry.get(n).family != "cam", names.index(n)))
    for e in registry.entries():
        view = cam.METHODS if e.family == "cam" else attribution.ATTRIBUTIONS
        assert view[e.name] is e.fn and e.fn.__name__ == e.name  # a real def, found by name
        assert e.label and (e.needs_layer or e.family == "attribution")
    assert registry.label("grad_cam_pp") == "Grad-CAM++" and registry.label("eigen_cam") == \
        "Eigen-CAM"
    assert registry.get("guided_grad_cam").needs_layer and not registry.get("saliency").needs_layer
    assert not registry.get("eigen_cam").uses_class


def test_one_decorator_registers_a_method_in_its_family(tiny_net, batch):
    @registry.register("mean_input_test", family="attribution", label="Mean")
    def mean_input_test(model, x, class_idx=None):
        return attribution.saliency(model, x, class_idx)

    try:
        assert attribution.ATTRIBUTIONS["mean_input_test"] is mean_input_test
        assert "mean_input_test" not in cam.METHODS
        with pytest.raises(ValueError, match="already registered"):
            registry.register("mean_input_test", family="cam")(mean_input_test)
        with pytest.raises(ValueError, match="family"):
            registry.register("x", family="pixels")
    finally:
        registry.unregister("mean_input_test")
    assert "mean_input_test" not in attribution.ATTRIBUTIONS


@pytest.mark.parametrize("name", [e.name for e in registry.entries()])
def test_every_registered_method_leaves_the_model_as_it_was(name, tiny_net, batch):
    """Hooks removed, parameters unchanged, no .grad, requires_grad restored; also on errors."""
    tiny_net.fc.bias.requires_grad_(False)  # the caller's own choice must survive
    flags = [p.requires_grad for p in tiny_net.parameters()]
    before = {k: v.clone() for k, v in tiny_net.state_dict().items()}

    def module_types():  # Guided Backprop swaps the ReLUs during a call, and back
        return [type(m) for n, m in tiny_net.named_modules() if n != "pool"]

    types = module_types()
    x = batch.clone().requires_grad_(True)
    opts = FAST.get(name, {})

    def untouched():
        assert count_hooks(tiny_net) == 0 and not tiny_net.training
        assert [p.requires_grad for p in tiny_net.parameters()] == flags
        assert all(p.grad is None for p in tiny_net.parameters()) and x.grad is None
        assert module_types() == types
        for k, v in tiny_net.state_dict().items():
            assert torch.equal(v, before[k]), f"{name} changed {k}"

    res = registry.explain(name, tiny_net, x, CLASSES, layer=LAYER, **opts)
    assert res.maps.shape == (3, 32, 32) and res.method == name
    untouched()
    with pytest.raises(IndexError):
        registry.explain(name, tiny_net, x, [0, 1, 9], layer=LAYER, **opts)
    untouched()

    class Boom(nn.Module):
        def forward(self, t):
            raise RuntimeError("boom")

    tiny_net.pool = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        registry.explain(name, tiny_net, x, layer=LAYER, **opts)
    untouched()
