"""CAM and its family on one engine.

:mod:`.engine` runs the layer pass, :mod:`.weights` holds each method's channel weights,
:mod:`.methods` turns them into methods; a method that is not a weighted sum of maps is
one function in its own file (:mod:`.eigen`, :mod:`.ablation`). Every method is registered
in :mod:`helpers.registry`; ``METHODS`` is this family's view of it.
"""

from ..explanation import CamResult, Explanation
from .engine import LayerPass, Reshape, layer_pass
from .methods import (METHODS, Method, class_weight_cam, grad_cam, grad_cam_pp, hires_cam,
                      layer_cam, register, run, score_cam, xgrad_cam)
from .weights import WeightFunction
from .eigen import eigen_cam  # noqa: E402  (registers after the methods above)
from .ablation import ablation_cam  # noqa: E402

__all__ = [
    "METHODS", "CamResult", "ablation_cam", "eigen_cam", "Explanation", "LayerPass", "Method", "Reshape", "WeightFunction",
    "class_weight_cam", "grad_cam", "grad_cam_pp", "hires_cam", "layer_cam", "layer_pass",
    "register", "run", "score_cam", "xgrad_cam",
]
