"""Which layer, which channel, and what part of the input one of its cells sees.

The channel tools take a model, an ordered list of ``(name, module)`` layers
(``bundle.feature_layers``, or :func:`toy_layers` for the toy nets) and images
in [0, 1] with the normalization the model expects (``mean``, ``std``; the toy
nets normalize inside, so theirs are 0 and 1). A forward pass stops at the
deepest requested layer (a hook raises after capturing it), and every hook is
removed in ``finally``.

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..hooks import Capture

Layers = Sequence[tuple[str, nn.Module]]
IDENTITY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # (mean, std) of a net that normalizes inside


class _Stop(Exception):
    """Raised by the capturing hook once the deepest wanted layer has run."""


def toy_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The four conv-bn-relu blocks of a toy-world net as ``(name, module)`` pairs."""
    return [(f"features.{i}", block) for i, block in enumerate(net.features)]


def resolve_layer(layers: Layers, layer: int | str) -> tuple[int, str, nn.Module]:
    """``(index, name, module)`` of ``layer`` given as an index into ``layers`` or a name.

    Raises:
        IndexError: an index out of range; KeyError: an unknown name.
    """
    names = [name for name, _ in layers]
    if isinstance(layer, str):
        if layer not in names:
            raise KeyError(f"no layer named {layer!r}; the layers are {names[:4]} ... {names[-2:]}")
        i = names.index(layer)
    else:
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(names):
            raise IndexError(f"layer must be an index in [0, {len(names) - 1}], got {layer!r}")
        i = layer
    return i, names[i], layers[i][1]


def check_images(x: torch.Tensor) -> torch.Tensor:
    """Raise a clear error unless ``x`` is a non-empty ``(N, 3, H, W)`` batch."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"images must be a tensor (N, 3, H, W), got {shape}")
    if x.shape[0] == 0:
        raise ValueError("the image set is empty: give at least one image")
    return x


def check_channel(channels: int, channel: int, name: str = "") -> int:
    """``channel`` as an int, or an IndexError naming the layer and its channel count."""
    if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < channels:
        raise IndexError(f"channel must be in [0, {channels - 1}] (layer {name} has {channels} "
                         f"channels), got {channel!r}")
    return channel


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x - mean) / std`` per channel. Shapes: ``(N, 3, H, W)`` in and out."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def forward_to(model: nn.Module, modules: dict[str, nn.Module], x: torch.Tensor,
               stop_at: str | None = None) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` until ``stop_at`` (default: the last of ``modules``) has run.

    Gradients flow when the caller has them enabled (the outputs keep their graph).
    Every output must have a spatial extent ``(N, C, h, w)``.

    Raises:
        ValueError: a layer's output is not 4-D (a layer without spatial extent), or
            the model never ran one of the layers.

    Shapes:
        x: ``(N, 3, H, W)``; returns ``{name: (N, C, h, w)}``.
    """
    stop_at = stop_at or list(modules)[-1]
    with Capture(modules, detach=not torch.is_grad_enabled()) as cap:  # no grad: clone
        # Registered after the capturing hook, so it runs after it.
        stopper = modules[stop_at].register_forward_hook(lambda m, i, o: _raise_stop())
        try:
            model(x)
        except _Stop:
            pass
        finally:
            stopper.remove()
    missing = [n for n in modules if n not in cap.acts]
    if missing:
        raise ValueError(f"the model's forward pass never ran layer(s) {missing}")
    for name, a in cap.acts.items():
        if a.ndim != 4:
            raise ValueError(f"layer {name} outputs shape {tuple(a.shape)}: it has no spatial extent "
                             f"(N, C, h, w), so it has no receptive field, patches or masks; "
                             f"choose a convolutional layer")
    return cap.acts


def _raise_stop() -> None:
    raise _Stop


@dataclass(frozen=True)
class ReceptiveField:
    """Where cell ``(i, j)`` of a layer's map looks in the input.

    Attributes:
        size: side of the square the cell depends on, in input pixels (at most the
            image side: a larger field is cut at the border).
        stride: input pixels per map cell.
        origin: top-left pixel of the field of cell ``(0, 0)`` (may be negative:
            part of the field lies in the zero padding).
    """

    size: int
    stride: int
    origin: int

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of cell ``(i, j)``'s field, possibly beyond the image."""
        top, left = self.origin + i * self.stride, self.origin + j * self.stride
        return top, left, top + self.size, left + self.size


def receptive_field(model: nn.Module, layers: Layers, layer: int | str, side: int,
                    mean: Sequence[float] = IDENTITY[0], std: Sequence[float] = IDENTITY[1],
                    samples: int = 2, seed: int = 0) -> ReceptiveField:
    """Measure a layer's receptive field: the support of the input gradient of its centre cell.

    The gradient of every channel at the centre cell, summed over ``samples`` random
    images (so that ReLU and max-pool paths closed for one image are open for another),
    is non-zero exactly on the pixels the cell depends on. The answer is cached per
    module and arguments (one backward pass the first time).

    Shapes:
        the probe images are ``(samples, 3, side, side)``.
    """
    _, name, module = resolve_layer(layers, layer)
    key = (side, tuple(mean), tuple(std), samples, seed)
    cached = _FIELDS.setdefault(module, {})
    if key not in cached:
        cached[key] = _measure_field(model, name, module, side, mean, std, samples, seed)
    return cached[key]


_FIELDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _measure_field(model: nn.Module, name: str, module: nn.Module, side: int,
                   mean: Sequence[float], std: Sequence[float], samples: int,
                   seed: int) -> ReceptiveField:
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    x = torch.rand(samples, 3, side, side, generator=g).to(device).requires_grad_(True)
    with torch.enable_grad():
        acts = forward_to(model, {name: module}, normalize(x, mean, std))[name]  # (S, C, h, w)
        h, w = acts.shape[2:]
        i0, j0 = h // 2, w // 2
        (grad,) = torch.autograd.grad(acts[:, :, i0, j0].sum(), x)
    support = grad.abs().sum(dim=(0, 1)) > 0  # (side, side)
    rows = torch.nonzero(support.any(dim=1)).flatten()
    cols = torch.nonzero(support.any(dim=0)).flatten()
    if rows.numel() == 0:
        raise ValueError(f"layer {name}: the centre cell does not depend on the input")
    stride = max(1, round(side / h))
    size = int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)
    centre = (float(rows[0] + rows[-1]) / 2, float(cols[0] + cols[-1]) / 2)
    if size >= side:  # cut at both borders: the field is at least the image
        return ReceptiveField(size=side, stride=stride, origin=0)
    # A field cut on one side only: extend it symmetrically about the cell's own centre.
    cell_centre = ((i0 + 0.5) * stride - 0.5, (j0 + 0.5) * stride - 0.5)
    half = max(abs(c - e) for c, e in zip(centre, cell_centre)) + (size - 1) / 2
    size = min(side, int(round(2 * half + 1)))
    origin = int(round(cell_centre[0] - (size - 1) / 2)) - i0 * stride
    return ReceptiveField(size=size, stride=stride, origin=origin)
