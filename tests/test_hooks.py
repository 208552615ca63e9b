"""helpers.hooks against a manual forward pass and hand-written autograd.grad."""

from __future__ import annotations

import pytest
import torch

from helpers.hooks import Capture, capture_activations, count_hooks


def test_captured_activations_equal_manual_forward(tiny_net, tiny_input):
    layers = [(f"features.{i}", m) for i, m in enumerate(tiny_net.features)]
    acts = capture_activations(tiny_net, tiny_input, layers)
    x = tiny_input
    with torch.no_grad():
        for i, m in enumerate(tiny_net.features):
            x = m(x.clone())  # clone: the manual pass must not be fooled by in-place ReLU
            assert torch.allclose(acts[f"features.{i}"], x), i
    # The BN output is captured before the in-place ReLU overwrote it: it has negatives.
    assert (acts["features.1"] < 0).any()
    assert count_hooks(tiny_net) == 0


def test_leaf_mode_gradient_equals_hand_written_autograd_grad(tiny_net, tiny_input):
    layer = tiny_net.features[5]  # BN, followed by an in-place ReLU
    with Capture({"bn": layer}, leaf=True) as cap:
        score = tiny_net(tiny_input)[0, 2]
        (grads,) = torch.autograd.grad(score, cap.leaves["bn"])
    # By hand, no hooks: split the network at the layer.
    a = tiny_net.features[:6](tiny_input)  # (1, 16, 16, 16)
    leaf = a.detach().requires_grad_(True)
    rest = tiny_net.features[6:](leaf.clone())
    logits = tiny_net.fc(torch.flatten(tiny_net.pool(rest), 1))
    (expected,) = torch.autograd.grad(logits[0, 2], leaf)
    assert torch.equal(grads, expected)
    # The stored map is the BN output, not overwritten by the in-place ReLU after it.
    assert torch.equal(cap.acts["bn"], a.detach()) and (cap.acts["bn"] < 0).any()
    assert cap.leaves["bn"].is_leaf and cap.leaves["bn"].shape == (1, 16, 16, 16)
    assert count_hooks(tiny_net) == 0
    # The backward pass stopped at the layer: nothing upstream got a gradient.
    assert all(p.grad is None for p in tiny_net.parameters())


def test_leaf_mode_changes_nothing_downstream(tiny_net, tiny_input):
    with torch.no_grad():
        expected = tiny_net(tiny_input)
    with Capture({"conv": tiny_net.features[4]}, leaf=True):
        logits = tiny_net(tiny_input)
    assert torch.equal(logits, expected) and logits.requires_grad


@pytest.mark.parametrize("leaf", [False, True])
def test_hooks_removed_after_exception_and_exception_propagates(tiny_net, tiny_input, leaf):
    with pytest.raises(RuntimeError, match="boom"):
        with Capture(tiny_net.features, leaf=leaf):
            tiny_net(tiny_input)
            assert count_hooks(tiny_net) == 1
            raise RuntimeError("boom")
    assert count_hooks(tiny_net) == 0


def test_hooks_removed_when_forward_raises(tiny_net):
    with pytest.raises(RuntimeError):
        capture_activations(tiny_net, torch.randn(1, 4, 8, 8), {"f": tiny_net.features[0]})
    assert count_hooks(tiny_net) == 0


def test_bad_layer_spec_rejected(tiny_net):
    with pytest.raises(TypeError, match="name, module"):
        Capture([tiny_net.features[0]])
    with pytest.raises(ValueError, match="unique"):
        Capture([("a", tiny_net.fc), ("a", tiny_net.pool)])


def test_count_hooks_sees_leftovers(tiny_net):
    handle = tiny_net.fc.register_forward_hook(lambda *a: None)
    assert count_hooks(tiny_net) == 1
    handle.remove()
    assert count_hooks(tiny_net) == 0
