"""CAM and its family on one engine.

:mod:`.engine` runs the layer pass, :mod:`.weights` holds each method's channel weights,
:mod:`.methods` turns them into methods. ``helpers.cam`` keeps the API of the former flat
``helpers/cam.py``.
"""

from .engine import LayerPass, Reshape, layer_pass
from .methods import (METHODS, CamResult, Method, class_weight_cam, grad_cam, grad_cam_pp,
                      hires_cam, layer_cam, register, run, score_cam, xgrad_cam)
from .weights import WeightFunction

__all__ = [
    "METHODS", "CamResult", "LayerPass", "Method", "Reshape", "WeightFunction", "class_weight_cam",
    "grad_cam", "grad_cam_pp", "hires_cam", "layer_cam", "layer_pass", "register", "run",
    "score_cam", "xgrad_cam",
]
