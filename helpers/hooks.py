"""Capturing activations and gradients with hooks that never outlive their use.

Every hook is registered inside a context manager and removed in ``finally``;
exceptions propagate. Gradients come from ``torch.autograd.grad`` with respect
to the captured output made an autograd leaf (``Capture(..., leaf=True)``),
never from module backward hooks (they break on in-place ReLU, pytorch#61519).
The notebooks also show ``Tensor.register_hook`` by hand, as the textbook does.

Introduced in notebooks/09_1_layer_outputs and notebooks/09_2_1_cam.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

LayerSpec = nn.Module | Mapping[str, nn.Module] | Iterable[tuple[str, nn.Module]]


def _as_named(layers: LayerSpec) -> list[tuple[str, nn.Module]]:
    if isinstance(layers, nn.Module):
        return [("output", layers)]
    if isinstance(layers, Mapping):
        named = list(layers.items())
    else:
        named = list(layers)
    for item in named:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], nn.Module)):
            raise TypeError(f"expected (name, module) pairs, got {item!r}")
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names must be unique, got {names}")
    return named


class Capture:
    """Context manager that records layer outputs in one forward pass.

    Example (activations)::

        with torch.no_grad(), Capture({"layer4": model.layer4}) as cap:
            model(x)
        acts = cap.acts["layer4"]

    Example (gradients, ``leaf=True``)::

        with Capture({"layer4": model.layer4}, leaf=True) as cap:
            logits = model(x)
            (grads,) = torch.autograd.grad(logits[0, k], cap.leaves["layer4"])

    Args:
        layers: one module, a ``{name: module}`` mapping, or ``(name, module)`` pairs.
        leaf: make each layer's output a fresh leaf of the autograd graph
            (``output.detach().requires_grad_()``), kept in ``cap.leaves[name]``;
            the hook hands a *clone* of the leaf downstream. The gradient of any
            later score with respect to the layer's output is then
            ``torch.autograd.grad(score, cap.leaves[name])``: the backward pass
            stops at the layer (nothing before it is recorded), and an in-place
            op after the layer (``ReLU(inplace=True)``, ``out += identity``)
            cannot alter the stored map. The forward pass must run with
            gradients enabled for the clone to carry the graph.
        detach: store detached copies of the activations (default). The copy
            matters: an in-place ReLU after the layer would change a mere view.
            In leaf mode ``acts[name]`` is always ``leaves[name].detach()``.

    Shapes:
        acts[name], leaves[name]: whatever the layer returns, e.g. ``(N, C, h, w)``.
    """

    def __init__(self, layers: LayerSpec, *, leaf: bool = False, detach: bool = True) -> None:
        self.layers = _as_named(layers)
        self.leaf = leaf
        self.detach = detach
        self.acts: dict[str, torch.Tensor] = {}
        self.leaves: dict[str, torch.Tensor] = {}  # autograd leaves, only when leaf=True
        self._handles: list[RemovableHandle] = []

    def _hook_for(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> torch.Tensor | None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returned {type(output).__name__}, not a tensor")
            if not self.leaf:
                self.acts[name] = output.detach().clone() if self.detach else output
                return None
            leaf = output.detach().requires_grad_(True)
            self.acts[name] = leaf.detach()
            self.leaves[name] = leaf
            return leaf.clone()  # what the rest of the model sees: the graph from here on

        return hook

    def __enter__(self) -> Capture:
        try:
            for name, module in self.layers:
                self._handles.append(module.register_forward_hook(self._hook_for(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()  # returns None: an exception inside the block propagates

    def remove(self) -> None:
        """Remove every handle this capture registered (safe to call twice)."""
        while self._handles:
            self._handles.pop().remove()


class Replace:
    """Replace a module's output by ``edit(output)`` while the block runs (a forward hook).

    The hook is removed on exit, also when the block raises; the exception propagates.
    Ablation-CAM uses it to zero one channel per image of a batch.

    Shapes:
        edit: the module's output -> a tensor of the same shape.
    """

    def __init__(self, module: nn.Module, edit: Any) -> None:
        self.module, self.edit = module, edit
        self._handle: RemovableHandle | None = None

    def __enter__(self) -> Replace:
        self._handle = self.module.register_forward_hook(lambda m, i, out: self.edit(out))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def capture_activations(
    model: nn.Module, x: torch.Tensor, layers: LayerSpec
) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` once without gradients and return every requested layer's output.

    Shapes:
        x: ``(N, 3, H, W)``; each value: the layer's output, e.g. ``(N, C, h, w)``.
    """
    with torch.no_grad(), Capture(layers) as cap:
        model(x)
    return cap.acts


def count_hooks(model: nn.Module) -> int:
    """Number of forward, forward-pre and backward hooks left on ``model`` and its children."""
    total = 0
    for m in model.modules():
        total += len(m._forward_hooks) + len(m._forward_pre_hooks)
        total += len(m._backward_hooks) + len(getattr(m, "_backward_pre_hooks", {}))
    return total
