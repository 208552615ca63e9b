"""Localization of a map against ground-truth masks: pointing game, energy, discrimination.

For images whose right answer is known (the toy world of :mod:`helpers.toy.world`),
a map can be scored against the object's pixel mask:

* pointing game (Zhang et al. 2016): is the map's maximum on the object
  (within ``tolerance`` pixels of its mask)?
* energy inside the mask (the "energy-based pointing game" of Score-CAM):
  ``sum(map * mask) / sum(map)``;
* class-discriminativeness on two-object images: does the map for class A put
  more energy on A's mask than on B's?

Every function takes one map or a stack ``(..., H, W)`` and the masks of the same
shape, numpy or torch, and returns numbers. Maps must be non-negative (a CAM
or an attribution map in [0, 1]).

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_numpy(a: np.ndarray | torch.Tensor) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _pair(cam: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor,
          what: str = "mask") -> tuple[np.ndarray, np.ndarray]:
    c = _as_numpy(cam).astype(np.float64)
    m = _as_numpy(mask)
    if c.ndim < 2:
        raise ValueError(f"a map must be (H, W) or (..., H, W), got shape {c.shape}")
    if m.shape != c.shape:
        raise ValueError(f"{what} of shape {m.shape} does not match the map's shape {c.shape}: "
                         f"pass one (H, W) mask per (H, W) map")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"{what} must be boolean (or 0/1), got values other than 0 and 1")
        m = m.astype(bool)
    if not np.isfinite(c).all():
        raise ValueError("map contains NaN or inf values")
    if (c < 0).any():
        raise ValueError("map has negative values: pass a non-negative map (e.g. CamResult.cam)")
    return c, m


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2  # (2r+1, 2r+1)


def dilate(mask: np.ndarray | torch.Tensor, radius: int) -> np.ndarray:
    """Grow a mask by every pixel within Euclidean distance ``radius`` (a disk).

    Shapes:
        mask: ``(..., H, W)`` bool -> the same.
    """
    m = _as_numpy(mask).astype(bool)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return m.copy()
    t = torch.from_numpy(m.reshape(-1, 1, *m.shape[-2:]).astype(np.float32))  # (B, 1, H, W)
    k = torch.from_numpy(_disk(radius).astype(np.float32))[None, None]
    hit = torch.nn.functional.conv2d(t, k, padding=radius) > 0.5
    return hit.numpy().reshape(m.shape)


def pointing_game(cam: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor,
                  tolerance: int = 0) -> np.ndarray | bool:
    """Whether each map's maximum lies on its mask, within ``tolerance`` pixels.

    The point is ``argmax`` of the map (the first maximum in row-major order);
    it is a hit when it lies in the mask grown by a disk of radius ``tolerance``
    (Zhang et al. 2016 used 15 px on images of about 224 px). A flat map
    (max == min, e.g. all zeros) points nowhere and counts as a miss.

    Shapes:
        cam: ``(H, W)`` or ``(..., H, W)``; mask: the same shape, bool.
        Returns a bool, or a bool array of shape ``(...)``.
    """
    c, m = _pair(cam, mask)
    grown = dilate(m, tolerance)
    flat_c = c.reshape(-1, c.shape[-2] * c.shape[-1])  # (B, P)
    arg = flat_c.argmax(axis=1)
    hit = grown.reshape(flat_c.shape)[np.arange(len(arg)), arg]
    hit &= flat_c.max(axis=1) > flat_c.min(axis=1)  # a flat map points nowhere
    return bool(hit[0]) if c.ndim == 2 else hit.reshape(c.shape[:-2])


def energy_in_mask(cam: np.ndarray | torch.Tensor,
                   mask: np.ndarray | torch.Tensor) -> np.ndarray | float:
    """The share of the map's mass inside the mask: ``sum(cam * mask) / sum(cam)``.

    1.0 when all of the map lies on the object; NaN for an all-zero map (no mass to share).

    Shapes:
        cam: ``(H, W)`` or ``(..., H, W)``; mask: the same shape. Returns a float or ``(...)``.
    """
    c, m = _pair(cam, mask)
    total = c.sum(axis=(-2, -1))
    inside = (c * m).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)
    return float(share) if c.ndim == 2 else share


def discrimination(cam_a: np.ndarray | torch.Tensor, mask_a: np.ndarray | torch.Tensor,
                   mask_b: np.ndarray | torch.Tensor) -> np.ndarray | float:
    """How much of the map for class A that lies on either object lies on A:
    ``E_A / (E_A + E_B)`` with ``E_X = sum(cam_a * mask_X)``.

    1.0: only on A; 0.5: no preference; 0.0: only on B (the map points at the
    other object). NaN when the map has no mass on either object. A map
    *discriminates* when the value is above 0.5 (see :func:`discriminates`).

    Shapes:
        cam_a, mask_a, mask_b: ``(H, W)`` or ``(..., H, W)``. Returns a float or ``(...)``.
    """
    c, ma = _pair(cam_a, mask_a, "mask_a")
    _, mb = _pair(cam_a, mask_b, "mask_b")
    ea = (c * ma).sum(axis=(-2, -1))
    eb = (c * mb).sum(axis=(-2, -1))
    both = ea + eb
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(both > 0, ea / np.where(both > 0, both, 1.0), np.nan)
    return float(share) if c.ndim == 2 else share


def discriminates(cam_a: np.ndarray | torch.Tensor, mask_a: np.ndarray | torch.Tensor,
                  mask_b: np.ndarray | torch.Tensor) -> np.ndarray | bool:
    """Whether the map for class A has more energy on A's mask than on B's (NaN counts as no).

    Shapes: as :func:`discrimination`; returns a bool or a bool array ``(...)``.
    """
    share = np.asarray(discrimination(cam_a, mask_a, mask_b))
    out = np.nan_to_num(share, nan=0.0) > 0.5
    return bool(out) if out.ndim == 0 else out
