"""The part of a network after one layer, as a module of its own (torch.fx).

Ablation-CAM scores many copies of one image that differ only in the target layer's
output; everything before the layer is the same for all of them. :func:`layer_tail`
traces the model with :mod:`torch.fx`, cuts the graph at the layer's call and builds a
module whose input is the layer's output, so the copies only run what comes after.

The cut is exact only when the rest of the network sees the input through the layer
alone. :func:`layer_tail` returns ``None`` with the reason when it is not:

- the model cannot be traced (data-dependent control flow in ``forward``);
- the layer is not called exactly once;
- a computation after the layer also reads a value from before it (a skip connection
  around the layer, a use of the input or of its shape);
- the output does not depend on the layer.

What the graph cannot show is not checked: a module that stores a tensor in an attribute
for a later module to read would pass it around the cut.

Only the model and the modules that contain the layer are traced through; every other
submodule stays one call (a leaf), so a trace-unfriendly block elsewhere does not matter.
The tail shares the model's submodules and parameters (nothing is copied or changed),
and it registers no hooks.
"""

from __future__ import annotations

from torch import fx, nn


class _LayerTracer(fx.Tracer):
    """Trace through ``model`` and the modules that contain ``name``; all else is one call."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return not (qualname == "" or self.name.startswith(qualname + "."))


def _cut(graph: fx.Graph, name: str) -> tuple[fx.Node | None, set[fx.Node], str]:
    """The layer's node and the nodes that read the input other than through it, or why not."""
    calls = [n for n in graph.nodes if n.op == "call_module" and n.target == name]
    if len(calls) != 1:
        return None, set(), f"layer {name!r} is called {len(calls)} times in the traced forward"
    layer = calls[0]
    before: set[fx.Node] = set()  # depend on the input without passing through the layer
    after: set[fx.Node] = {layer}  # depend on the layer's output
    for node in graph.nodes:
        if node is layer:
            continue
        inputs = node.all_input_nodes
        if node.op == "placeholder" or any(a in before for a in inputs):
            before.add(node)
        if any(a in after for a in inputs):
            after.add(node)
    out = next(n for n in graph.nodes if n.op == "output")
    if out not in after:
        return None, set(), f"the output does not depend on layer {name!r}"
    for node in (n for n in graph.nodes if n in after and n is not layer):  # in order
        mixed = [a.name for a in node.all_input_nodes if a in before]
        if mixed:
            return None, set(), (f"{node.op} {node.name!r} after layer {name!r} also reads "
                                 f"{mixed} from before it (a skip connection or the input)")
    return layer, before, ""


def layer_tail(model: nn.Module, name: str) -> tuple[fx.GraphModule | None, str]:
    """The network after layer ``name``: ``tail(layer_output) == model(x)``, or why not.

    Args:
        model: the network (its ``forward`` takes the input batch).
        name: the qualified name of the layer in ``model`` (``"layer4"``, ``"features.42"``).

    Returns:
        ``(tail, "")``, or ``(None, reason)`` when the network after the layer also reads
        something from before it (see the module docstring) or cannot be traced.

    Shapes:
        tail: the layer's output ``(M, C, h, w)`` -> the model's output ``(M, classes)``.
    """
    try:
        graph = _LayerTracer(name).trace(model)
    except Exception as err:  # fx raises TraceError, TypeError, NotImplementedError...
        return None, f"torch.fx cannot trace {type(model).__name__}: {type(err).__name__}: {err}"
    layer, before, reason = _cut(graph, name)
    if layer is None:
        return None, reason
    tail = fx.Graph()
    env: dict[fx.Node, fx.Node] = {layer: tail.placeholder("acts")}
    for node in graph.nodes:  # the nodes after the cut and the constants (get_attr...), in order
        if node is not layer and node not in before:
            env[node] = tail.node_copy(node, lambda a: env[a])
    module = fx.GraphModule(model, tail, class_name=f"{type(model).__name__}Tail")
    module.graph.eliminate_dead_code()  # constants only the part before the layer used
    module.graph.lint()
    module.recompile()
    return module, ""

