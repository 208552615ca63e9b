"""The one result type of every explanation method, CAM and attribution alike.

An :class:`Explanation` is always batched: ``maps`` is ``(N, H, W)`` in [0, 1], ``raws``
the map before scaling (a CAM's weighted sum at the layer's resolution ``(N, h, w)``,
an attribution in the input's layout ``(N, 3, H, W)``), ``targets`` the explained class
of each image, ``method`` the registered name, ``extras`` method-specific values per
image (leading axis ``N``) and ``settings`` method-specific constants.

``res[i]`` is image ``i`` as a result of one image: it keeps the batch axis
(``res[i].maps`` is ``(1, H, W)``), for both families. The accessors of the two
result types this one replaced (``cam``, ``map``, ``raw``, ``class_idx``, ``weights``,
``probs``, ``info``) keep their old shapes for the notebooks: without the batch axis
when the request was for one image (``x`` of one image and ``class_idx`` not a list).

Introduced in notebooks/09_2_1_cam (``class_weight_cam``'s result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .arrays import minmax


def scaled(m: torch.Tensor) -> np.ndarray:
    """Min-max of each map to [0, 1] (a flat map gives zeros), as float32 numpy.

    Shapes:
        m: ``(N, H, W)``; returns ``(N, H, W)``.
    """
    return minmax(m.float(), dims=(1, 2)).clamp_(0.0, 1.0).cpu().numpy().astype(np.float32)


def upsampled(m: torch.Tensor | np.ndarray, size: tuple[int, int],
              shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The one way an explanation map reaches pixels: bilinear upsampling, then min-max.

    Bilinear with ``align_corners=False`` (pytorch-grad-cam's and torchcam's choice), so
    a CAM's ``maps`` agree with the peers; figures (:func:`helpers.draw.viz.overlay_explanation`)
    and the explorer draw through this same function, so they show the same pixels.

    Args:
        m: maps, non-negative for a CAM (the caller applies the ReLU).
        size: ``(H, W)`` of the output.
        shift: ``(dy, dx)`` in output pixels: draw each cell that much further down and
            right (e.g. :func:`helpers.cam.erf.drawing_shift` of
            :func:`helpers.cam.erf.erf_offset`, to draw cells where their effective
            receptive field's centre is); the edge value fills what moves in.

    Shapes:
        m: ``(N, h, w)``; returns ``(N, H, W)`` float32 in [0, 1].
    """
    t = torch.as_tensor(m).detach().float()
    if t.ndim != 3:
        raise ValueError(f"upsampled expects maps (N, h, w), got shape {tuple(t.shape)}")
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive (H, W), got {size}")
    if tuple(shift) == (0.0, 0.0):
        up = F.interpolate(t[:, None], size=(h, w), mode="bilinear", align_corners=False)
    else:  # sample the map at (pixel centre - shift), in the map's normalised coordinates
        ys = (torch.arange(h, dtype=torch.float32) + 0.5 - shift[0]) / h * 2 - 1
        xs = (torch.arange(w, dtype=torch.float32) + 0.5 - shift[1]) / w * 2 - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1).expand(len(t), h, w, 2).to(t.device)
        up = F.grid_sample(t[:, None], grid, mode="bilinear", padding_mode="border",
                           align_corners=False)
    return scaled(up[:, 0])  # (N, H, W)


def _take(value: Any, i: int | slice) -> Any:
    return value[i] if isinstance(value, (list, tuple, np.ndarray, torch.Tensor)) else value


@dataclass
class Explanation:
    """What a method computed for a batch of images.

    Attributes:
        maps: the heat maps in [0, 1] at the input's size, float32 numpy.
        raws: before scaling: a CAM's ``sum_k w_k A^k`` at the layer's resolution
            (before ReLU), an attribution in the input's layout; ``None`` if none.
        targets: the explained class of each image; ``None`` for a target given as a
            callable or a method that uses no class (Eigen-CAM).
        method: the method's name in :mod:`helpers.registry`.
        extras: per-image values, each with a leading axis ``N`` (``weights``, ``probs``,
            Integrated Gradients' ``delta``...).
        settings: method-specific constants (``reduction``, ``samples``...).
        single: the request was for one image; the old accessors then drop the batch axis.

    Shapes:
        maps: ``(N, H, W)``; raws: ``(N, h, w)`` (CAM) or ``(N, 3, H, W)`` (attribution).
    """

    maps: np.ndarray
    raws: torch.Tensor | None
    targets: list[int | None]
    method: str
    extras: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    single: bool = False

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, i: int) -> Explanation:
        """Image ``i`` as a result of one image; the batch axis stays (``maps (1, H, W)``)."""
        n = len(self)
        if not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise IndexError(f"image index {i!r} out of range for {n} images")
        s = slice(int(i) % n, int(i) % n + 1)
        return Explanation(self.maps[s], _take(self.raws, s), self.targets[s], self.method,
                           {k: _take(v, s) for k, v in self.extras.items()},
                           dict(self.settings), single=True)

    def per_image(self) -> list[Explanation]:
        """One single-image result per image."""
        return [self[i] for i in range(len(self))]

    def _one(self, value: Any) -> Any:
        return _take(value, 0) if self.single else value

    # ---- the accessors of the former CamResult and Attribution ----
    @property
    def cam(self) -> np.ndarray:
        """``maps``; ``(H, W)`` for a one-image request."""
        return self._one(self.maps)

    map = cam

    @property
    def raw(self) -> torch.Tensor | None:
        """``raws``; without the batch axis for a one-image request."""
        return self._one(self.raws)

    @property
    def class_idx(self) -> int | None | list[int | None]:
        """``targets``; one entry for a one-image request."""
        return self._one(self.targets)

    @property
    def weights(self) -> torch.Tensor:
        """``extras["weights"]`` (a CAM's channel or element weights)."""
        return self._one(self.extras["weights"])

    @property
    def probs(self) -> torch.Tensor:
        """``extras["probs"]``: softmax over the classes."""
        return self._one(self.extras["probs"])

    @property
    def reduction(self) -> str | None:
        """How an attribution's map was made from ``raws`` (``settings["reduction"]``)."""
        return self.settings.get("reduction")

    @property
    def info(self) -> dict[str, Any]:
        """``settings`` and ``extras`` together (an attribution's ``info``)."""
        return {**self.settings, **{k: self._one(v) for k, v in self.extras.items()}}

    def __repr__(self) -> str:  # shapes, not arrays: safe to print in a notebook
        raws = None if self.raws is None else tuple(self.raws.shape)
        return (f"Explanation(method={self.method!r}, targets={self.targets}, maps "
                f"{tuple(self.maps.shape)}, raws {raws}, extras {sorted(self.extras)}, "
                f"settings {self.settings})")


CamResult = Explanation
"""The former name of a CAM method's result."""

Attribution = Explanation
"""The former name of an attribution's result."""
