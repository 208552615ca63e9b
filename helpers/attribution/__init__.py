"""Pixel attributions: how much each input pixel matters for one class score.

``helpers.attribution`` keeps the API of the former flat ``helpers/attribution.py``
(:mod:`.methods`); the shared plumbing is :mod:`.base`.
"""

from .base import REDUCTIONS, Attribution
from .methods import (ATTRIBUTIONS, IG_METHODS, every_map, guided_backprop, guided_grad_cam,
                      integrated_gradients, lrp, occlusion, rise, saliency, smoothgrad)

__all__ = ["ATTRIBUTIONS", "IG_METHODS", "REDUCTIONS", "Attribution", "every_map", "guided_backprop",
           "guided_grad_cam", "integrated_gradients", "lrp", "occlusion", "rise", "saliency",
           "smoothgrad"]
