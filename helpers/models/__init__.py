"""Where weights come from, loading the classifiers, and the bundle's preprocessing geometry.

``helpers.models`` keeps the API of the former flat ``helpers/models.py``: ``load_model``,
``ModelBundle``, ``get_device`` and the rest, from :mod:`.imagenet`, :mod:`.bundle` and
:mod:`.sources`. EfficientNet-Lite0 without timm is :mod:`.lite0`.
"""

from .bundle import ModelBundle
from .imagenet import (BUNDLED_NAME, ENV_SOURCE, NAMES, SOURCES, describe_torchvision, get_device,
                       imagenet_categories, load_model, resolve_source)
from .sources import (ModelSourceError, build_with_weights, bundled_state_dict, bundled_weight_path,
                      load_weights, reachable, torchvision_weight_path, torchvision_weights,
                      weight_info)

__all__ = [
    "BUNDLED_NAME", "ENV_SOURCE", "NAMES", "SOURCES", "ModelBundle", "ModelSourceError",
    "build_with_weights", "bundled_state_dict", "bundled_weight_path", "describe_torchvision",
    "get_device", "imagenet_categories", "load_model", "load_weights", "reachable",
    "resolve_source", "torchvision_weight_path", "torchvision_weights", "weight_info",
]
