"""Feature visualization by optimization: the image a channel (or a class) wants to see.

Gradient ascent on the input, with the regularizers of Olah et al. (2017,
Distill "Feature Visualization") and their Lucid library:

* **Fourier parameterization**: the image is ``irfft2(scale * spectrum) / 4``, with
  ``scale = 1 / max(f, 1 / side) ** decay`` (``decay = 1``), so that every frequency
  is equally easy to change and the optimizer does not fill the image with
  high-frequency noise;
* **decorrelated colour**: the three channels are mixed by the square root of
  ImageNet's colour correlation (Lucid's ``color_correlation_svd_sqrt``) and squashed
  into [0, 1] by a sigmoid;
* **transformation robustness**: before every step the image is padded with grey,
  randomly scaled, rotated a little and shifted (jitter), so that only patterns that
  survive small transformations are kept. They also round sharp corners: the
  visualization of a planted star matched filter is judged a circle by
  ``concepts.template_scores`` with them and a star without them
  (``scripts/make_channels_cache.py``, ``template_check``);
* **redirected ReLU gradient** for the first ``REDIRECT_STEPS`` steps (Lucid's
  ``relu_gradient_override``, in :mod:`helpers.channels.relu`): a channel that is
  zero after its ReLU on the grey start image has no gradient at all, so where
  nothing gets through a ReLU, the gradient that would push its input up is let through.

The optimizer is Adam on the spectrum; the model's weights are never touched (the
gradient is taken with ``torch.autograd.grad`` with respect to the spectrum only).

Introduced in notebooks/09_1_layer_outputs (section "这个通道看到了什么").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .layers import IDENTITY, Layers, check_channel, forward_to, normalize, resolve_layer
from .relu import REDIRECT_STEPS, redirected_relus

COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
"""Lucid's square root of ImageNet's RGB colour correlation (columns: decorrelated axes)."""
OBJECTIVES = ("channel", "neuron", "class")


@dataclass
class Visualization:
    """One optimized image and how it was made.

    Attributes:
        image: the result in [0, 1] (no transformation applied).
        objective: ``"channel"`` (mean of the channel over its map), ``"neuron"`` (the
            channel's centre cell) or ``"class"`` (a logit).
        layer, index: the layer's name (``"logits"`` for a class) and the channel or class.
        steps, lr, seed: the optimization's settings.
        history: the objective on the transformed image at every step.

    Shapes:
        image: ``(3, size, size)``.
    """

    image: torch.Tensor
    objective: str
    layer: str
    index: int
    steps: int
    lr: float
    seed: int
    history: list[float] = field(default_factory=list)


def spectrum_scale(side: int, decay: float = 1.0) -> torch.Tensor:
    """Lucid's per-frequency scale ``sqrt(side^2) / max(f, 1/side)^decay``. Shapes: ``(side, side//2+1)``."""
    fy = torch.fft.fftfreq(side)[:, None]
    fx = torch.fft.rfftfreq(side)[None, :]
    return side / torch.clamp(torch.sqrt(fx ** 2 + fy ** 2), min=1.0 / side) ** decay


def fourier_image(spectrum: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Spectrum -> image in [0, 1]: inverse real FFT, decorrelated colour, sigmoid.

    Shapes:
        spectrum: ``(3, side, side//2 + 1)`` complex; scale: ``(side, side//2 + 1)``;
        returns ``(3, side, side)``.
    """
    side = spectrum.shape[1]
    x = torch.fft.irfft2(spectrum * scale, s=(side, side)) / 4.0  # (3, side, side), decorrelated
    mix = COLOR_SQRT / COLOR_SQRT.norm(dim=0).max()
    x = torch.einsum("ij,jhw->ihw", mix.to(x.device), x)  # (3, side, side): correlated RGB
    return torch.sigmoid(x)


def transform(x: torch.Tensor, generator: torch.Generator, jitter: int,
              scales: Sequence[float], degrees: float) -> torch.Tensor:
    """Pad with grey, then one random affine map: scale, rotation and a shift of up to ``jitter`` px.

    Shapes:
        x: ``(N, 3, S, S)`` in [0, 1]; returns the same shape.
    """
    n, _, side, _ = x.shape
    pick = lambda high: torch.randint(high, (1,), generator=generator).item()  # noqa: E731
    s = float(scales[pick(len(scales))])
    angle = math.radians((torch.rand(1, generator=generator).item() * 2 - 1) * degrees)
    shift = [(pick(2 * jitter + 1) - jitter) * 2.0 / side for _ in range(2)]
    cos, sin = math.cos(angle) / s, math.sin(angle) / s
    theta = torch.tensor([[cos, -sin, shift[0]], [sin, cos, shift[1]]], dtype=x.dtype,
                         device=x.device).expand(n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - 0.5, grid, align_corners=False, padding_mode="zeros") + 0.5


def visualize(model: nn.Module, layers: Layers | None, layer: int | str | None, index: int, *,
              objective: str = "channel", size: int = 128, steps: int = 128, lr: float = 0.05,
              mean: Sequence[float] = IDENTITY[0], std: Sequence[float] = IDENTITY[1],
              jitter: int | None = None, scales: Sequence[float] = (0.95, 0.975, 1.0, 1.025, 1.05),
              degrees: float = 5.0, seed: int = 0, progress: bool | None = None,
              threads: int | None = 1) -> Visualization:
    """Optimize an image that maximizes a channel, a neuron or a class logit.

    Args:
        model: the network (eval mode); layers: its ``(name, module)`` layers.
        layer: index or name in ``layers`` (``None`` with ``objective="class"``).
        index: the channel, or the class for ``objective="class"``.
        objective: ``"channel"`` (mean of the channel), ``"neuron"`` (its centre cell), ``"class"``.
        size: side of the image; steps, lr: Adam's steps and learning rate.
        mean, std: the model's input normalization (the image itself is in [0, 1]).
        jitter: largest shift in pixels (default ``size // 16``); scales, degrees: the
            random scale factors and largest rotation.
        seed: seeds the spectrum and the transformations.
        progress: show a tqdm bar (default: when ``steps >= 200``).
        threads: torch's CPU threads during the optimization, restored afterwards
            (``None``: unchanged). One by default: the loop is many small operations,
            where OpenMP workers on a shared CPU cost more than they save (the gap toy
            net, 32 steps at load ~5 on 2 cores: 0.29 s on 1 thread, 12.5 s on 2).

    Raises:
        ValueError: an unknown objective or a layer without spatial extent.
        IndexError: a layer, channel or class out of range.

    Shapes:
        returns ``Visualization.image`` ``(3, size, size)``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    spectrum = (torch.randn(3, size, size // 2 + 1, 2, generator=g) * 0.01)
    spectrum = torch.view_as_complex(spectrum).to(device).requires_grad_(True)
    scale = spectrum_scale(size).to(device)
    score = _objective(model, layers, layer, index, objective, mean, std)
    name = "logits" if objective == "class" else resolve_layer(layers, layer)[1]
    optimizer = torch.optim.Adam([spectrum], lr=lr)
    jitter = max(1, size // 16) if jitter is None else jitter
    history: list[float] = []
    saved_threads, bar = torch.get_num_threads(), None
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        score(fourier_image(spectrum.detach(), scale)[None])  # checks the index before the loop
        bar = _bar(steps, progress)
        with torch.enable_grad():
            for step in range(steps):
                x = transform(fourier_image(spectrum, scale)[None], g, jitter, scales, degrees)
                with redirected_relus(model) if step < REDIRECT_STEPS else nullcontext():
                    value = score(x)
                    (grad,) = torch.autograd.grad(-value, spectrum)
                spectrum.grad = grad
                optimizer.step()
                history.append(float(value.detach()))
                if bar is not None:
                    bar.update(1)
    finally:
        torch.set_num_threads(saved_threads)
        if bar is not None:
            bar.close()
    image = fourier_image(spectrum.detach(), scale).cpu()  # (3, size, size)
    return Visualization(image=image, objective=objective, layer=name, index=index, steps=steps,
                         lr=lr, seed=seed, history=history)


def _bar(steps: int, progress: bool | None):
    if not (progress if progress is not None else steps >= 200):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="feature visualization", leave=False)


def _objective(model, layers, layer, index, objective, mean, std):
    """A function ``x (1, 3, S, S) in [0, 1] -> scalar`` for the chosen objective."""
    if objective == "class":
        def class_score(x: torch.Tensor) -> torch.Tensor:
            logits = model(normalize(x, mean, std))  # (1, classes)
            check_channel(logits.shape[1], index, "logits (classes)")
            return logits[0, index]
        return class_score
    _, name, module = resolve_layer(layers, layer)

    def channel_score(x: torch.Tensor) -> torch.Tensor:
        acts = forward_to(model, {name: module}, normalize(x, mean, std))[name]  # (1, C, h, w)
        check_channel(acts.shape[1], index, name)
        a = acts[0, index]  # (h, w)
        return a.mean() if objective == "channel" else a[a.shape[0] // 2, a.shape[1] // 2]
    return channel_score


@torch.no_grad()
def channel_scores(model: nn.Module, layers: Layers, layer: int | str, channel: int,
                   images: torch.Tensor, objective: str = "channel",
                   mean: Sequence[float] = IDENTITY[0], std: Sequence[float] = IDENTITY[1],
                   batch_size: int = 64) -> torch.Tensor:
    """The objective of :func:`visualize` on each image (no transformation).

    Shapes:
        images: ``(N, 3, S, S)`` in [0, 1]; returns ``(N,)``.
    """
    from .patches import layer_activations

    acts = layer_activations(model, layers, layer, images, mean, std, batch_size)  # (N, C, h, w)
    check_channel(acts.shape[1], channel, resolve_layer(layers, layer)[1])
    a = acts[:, channel]  # (N, h, w)
    if objective == "neuron":
        return a[:, a.shape[1] // 2, a.shape[2] // 2]
    return a.mean(dim=(1, 2))
