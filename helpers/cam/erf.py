"""Where a layer's cells really look: the centre of their effective receptive field.

Upsampling draws cell ``(i, j)`` of an ``h x w`` map at the centre of its patch,
``((i + 0.5) H / h, (j + 0.5) W / w)``. The pixels that move the cell most may sit
elsewhere: a stride-2 convolution with an odd kernel cannot be centred on its
``2 x 2`` patch, so each one moves the field half an input pixel of its own
layer, up-left with PyTorch's symmetric padding (torchvision's ResNet), down-right
with TensorFlow's ``"SAME"`` padding (the bundled EfficientNet-Lite0); five of them
add up to ``0.5 * (1 + 2 + 4 + 8 + 16) = 15.5`` input pixels. The effective
receptive field (Luo et al. 2016) is ``|d A(i, j) / d x|``; its centre of mass is
where the cell looks. :func:`erf_centres` measures it per cell, :func:`erf_offset`
the mean offset, and :func:`drawing_shift` turns a material offset into the
``shift`` of :func:`helpers.explanation.upsampled`.

Introduced in notebooks/09_2_1_cam (where the CAM layer's cells look).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..contract import frozen, layer_of
from ..hooks import Capture, Replace


def erf_centres(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                cells: Sequence[tuple[int, int]] | None = None, *, batch_size: int = 2) -> torch.Tensor:
    """Per probe and cell, ``(dy, dx)`` from where a cell is drawn to where it looks.

    Formula:
        ``G_nij = sum_c |d sum_k A^k_ij(x_n) / d x_n[c]|`` (probe ``n``'s ERF of cell ``ij``);
        ``centre_nij = sum_p (p + 0.5) G_nij(p) / sum_p G_nij(p)`` (pixel centres);
        ``offset_nij = centre_nij - (i + 0.5) H / h`` (and the same for ``x``).
        Negative: the cell looks up (or left) of where it is drawn.

    Args:
        model: any module in eval mode; nothing on it changes (parameters frozen).
        layer: the layer whose cells are measured (a submodule or its name); its
            output is taken before any in-place operation that follows it.
        x: the probe inputs (random or real images); one backward pass per cell
            serves them all.
        cells: ``(i, j)`` of the cells to measure; ``None``: every cell.
        batch_size: probes per forward pass (each probe's graph is kept for its
            backward passes: 16 probes of 224² through the bundled model took over
            1 GiB at once, enough to be killed under a class hub's memory limit).

    Returns:
        ``(N, h, w, 2)`` float64, in input pixels; ``NaN`` for a cell not measured or whose gradient is
        zero everywhere for that probe (it does not depend on the input).

    Shapes:
        x: ``(N, 3, H, W)``; the layer's output ``(N, C, h, w)``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a batch (N, 3, H, W), got {getattr(x, 'shape', type(x))}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if x.shape[0] > batch_size:  # probes are independent: their centres are computed apart
        return torch.cat([erf_centres(model, layer, part, cells, batch_size=batch_size)
                          for part in x.split(batch_size)])
    name, module = layer_of(model, layer)
    x = x.detach().float().requires_grad_(True)
    n, size_y, size_x = x.shape[0], x.shape[-2], x.shape[-1]
    # Capture keeps the output itself; the rest of the model gets a clone, so an
    # in-place op after the layer (VGG's ReLU(inplace=True)) cannot change it.
    with frozen(model), Capture({name: module}, detach=False) as cap, \
            Replace(module, lambda out: out.clone()):
        model(x)
        acts = cap.acts[name]
        if acts.ndim != 4:
            raise ValueError(f"layer {name} outputs shape {tuple(acts.shape)}, not a map "
                             f"(N, C, h, w)")
        h, w = acts.shape[-2:]
        todo = [(i, j) for i in range(h) for j in range(w)] if cells is None else list(cells)
        if any(not (0 <= i < h and 0 <= j < w) for i, j in todo):
            raise ValueError(f"cells {todo} outside the layer's {h}x{w} map")
        sums = acts.sum(dim=1)  # (N, h, w); probe n's cell depends on x[n] only
        ys = torch.arange(size_y, dtype=torch.float64) + 0.5  # pixel centres
        xs = torch.arange(size_x, dtype=torch.float64) + 0.5
        out = torch.full((n, h, w, 2), float("nan"), dtype=torch.float64)
        for i, j in todo:
            (g,) = torch.autograd.grad(sums[:, i, j].sum(), x, retain_graph=True)
            m = g.abs().sum(dim=1).double()  # (N, H, W): each probe's ERF of the cell
            total = m.sum(dim=(1, 2))  # (N,)
            cy = (m.sum(2) * ys).sum(1) / total - (i + 0.5) * size_y / h
            cx = (m.sum(1) * xs).sum(1) / total - (j + 0.5) * size_x / w
            out[:, i, j] = torch.stack([cy, cx], dim=1).where(total[:, None] > 0,
                                                              torch.tensor(float("nan")))
    return out


def probe_inputs(size: int = 224, samples: int = 4, seed: int = 0) -> torch.Tensor:
    """The Gaussian probe images of :func:`erf_offset` (standard normal, seeded).

    Shapes:
        returns ``(samples, 3, size, size)``.
    """
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(samples, 3, size, size, generator=gen)


def erf_offset(model: nn.Module, layer: nn.Module | str, size: int = 224, *,
               samples: int = 4, seed: int = 0,
               cells: Sequence[tuple[int, int]] | None = None) -> tuple[float, float]:
    """Mean ``(dy, dx)`` in input pixels from where a cell is drawn to where it looks.

    The mean of :func:`erf_centres` over the probes and ``cells`` (every cell by
    default), on ``samples`` Gaussian inputs. On a grid symmetric about the image
    centre, the pull of the border (a border cell's field is cut, its centre moves
    inward) cancels for a field that is centred on its cell; for a field that is not,
    the cut is uneven and the mean underestimates the offset. With trained weights the
    centres vary from probe to probe (the bundled Lite0's mean ``dx`` over single probes
    ran from about -2 to +15 px): average many probes. Each probe counts once; the
    centre of the probes' summed ERF would weight them by their gradient mass instead.

    Args:
        model: any module in eval mode; nothing on it changes (parameters frozen).
        layer: the layer whose cells are measured (a submodule or its name).
        size: the square input's side.
        samples: random inputs averaged.
        seed: their seed.
        cells: the cells averaged; ``None``: all.

    Raises:
        ValueError: no measured cell depends on the input.

    Shapes:
        x: ``(samples, 3, size, size)``; the layer's output ``(samples, C, h, w)``.
    """
    x = probe_inputs(size, samples, seed)
    per_cell = erf_centres(model, layer, x, cells).reshape(-1, 2)  # (samples * h * w, 2)
    per_cell = per_cell[~per_cell.isnan().any(dim=1)]
    if len(per_cell) == 0:
        raise ValueError("no measured cell depends on the input (all gradients are zero)")
    dy, dx = per_cell.mean(dim=0).tolist()
    return dy, dx


def drawing_shift(offset: tuple[float, float], cell: float,
                  threshold: float = 0.25) -> tuple[float, float]:
    """The ``shift`` that draws cells where they look, or none when the offset is small.

    Args:
        offset: ``(dy, dx)`` from :func:`erf_offset`, in the pixels the map is drawn on.
        cell: one cell's side in those pixels (e.g. ``224 / 7 = 32``).
        threshold: the offset is material when one of its components is at least
            ``threshold * cell`` (default a quarter of a cell).

    Returns:
        ``(dy, dx)`` when material, else ``(0.0, 0.0)``: the value for
        ``upsampled(..., shift=)``, which moves each cell by ``shift`` (so a cell
        that looks ``dy`` below where it is drawn is drawn there).
    """
    if cell <= 0 or threshold < 0:
        raise ValueError(f"cell must be positive and threshold non-negative, "
                         f"got {cell}, {threshold}")
    dy, dx = float(offset[0]), float(offset[1])
    if max(abs(dy), abs(dx)) < threshold * cell:
        return 0.0, 0.0
    return dy, dx
