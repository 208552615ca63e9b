"""Images and maps that know nothing of the model: blur substrates and baseline saliency maps.

A saliency method is worth something only when it beats maps that ignore the
model: uniform noise (:func:`random_map`), the image's own edges
(:func:`sobel_map`), as pytorch-grad-cam's metrics tutorial compares, and a bump at the
centre (:func:`centre_map`), as TorchRay's pointing game does. The
Gaussian blur is RISE's insertion substrate. Re-exported by
:mod:`helpers.trust.faithfulness`.

Introduced in notebooks/09_ext_trust.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..arrays import minmax


def gaussian_blur(x: torch.Tensor, kernel_size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """Blur each channel with a normalized Gaussian kernel, reflect padding at the border.

    The defaults are RISE's insertion substrate (an 11 x 11 kernel, sigma 5).

    Shapes:
        x: ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    r = kernel_size // 2
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-t**2 / (2 * sigma**2))
    g = g / g.sum()  # (k,)
    c = x.shape[1]
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    out = F.pad(x, (r, r, r, r), mode=mode)
    out = F.conv2d(out, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # rows
    return F.conv2d(out, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # columns


def random_map(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A baseline map of uniform noise in [0, 1), drawn from ``seed``. Shapes: -> ``shape``."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def centre_map(shape: tuple[int, int], sigma: float = 0.25) -> np.ndarray:
    """A baseline map that knows nothing of the image: a Gaussian bump at the centre.

    ``exp(-d^2 / (2 (sigma * min(H, W))^2))`` with ``d`` the distance to the image centre;
    its maximum (the pointing-game point) is the centre pixel. TorchRay's pointing-game
    benchmark uses such a centre baseline, a strong one on photos, where objects tend to
    sit in the middle.

    Shapes:
        -> ``shape`` = ``(H, W)`` float32 in (0, 1].
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    d2 = (yy - h / 2) ** 2 + (xx - w / 2) ** 2
    return np.exp(-d2 / (2 * (sigma * min(h, w)) ** 2)).astype(np.float32)


def sobel_map(x: torch.Tensor) -> np.ndarray:
    """A baseline map that knows nothing of the model: the Sobel edge magnitude of the image.

    ``G = sqrt((K_x * g)^2 + (K_y * g)^2)`` on the channel mean ``g`` (replicate
    padding), scaled to [0, 1] with :func:`helpers.arrays.minmax`.

    Shapes:
        x: ``(1, C, H, W)`` -> ``(H, W)`` float32 numpy.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image (1, C, H, W), got {tuple(x.shape)}")
    g = x.detach().float().mean(dim=1, keepdim=True)  # (1, 1, H, W)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=g.device)
    k = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    grad = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), k)  # (1, 2, H, W)
    return minmax(grad.pow(2).sum(dim=1)[0].sqrt()).cpu().numpy().astype(np.float32)
