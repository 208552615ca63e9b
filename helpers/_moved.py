"""The flat module names of ``helpers`` before the family packages (issue 19), for one term.

``from helpers import faithfulness``, ``import helpers.cam_engine`` and
``from helpers.textviz import model_view`` still work: each gives the module at its
new path (the same object) and a ``DeprecationWarning`` that names that path.
:data:`MOVED` is the one table; ``helpers.__getattr__`` serves attribute access and
:class:`MovedFinder` (on ``sys.meta_path``) serves ``import helpers.<old>``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED: dict[str, str] = {
    "attn_trust": "trust.attention",
    "attribution_base": "attribution.base",
    "baselines": "trust.baselines",
    "bundle": "models.bundle",
    "cam_engine": "cam.engine",
    "cam_weights": "cam.weights",
    "faithfulness": "trust.faithfulness",
    "fonts": "draw.fonts",
    "guided": "attribution.guided",
    "integrated": "attribution.integrated",
    "lite0": "models.lite0",
    "localization": "trust.localization",
    "occlusion": "attribution.occlusion",
    "rankcorr": "trust.rankcorr",
    "sanity": "trust.sanity",
    "shapenets": "toy.nets",
    "shapes": "toy.world",
    "sources": "models.sources",
    "textdata": "text.data",
    "textmodels": "text.models",
    "textviz": "draw.textviz",
    "viz": "draw.viz",
}
"""Old module name under ``helpers`` -> its new path under ``helpers``. ``cam``,
``attribution``, ``text`` and ``models`` kept their names (now packages, same API)."""

PACKAGE = __name__.rpartition(".")[0]  # "helpers"


def _new_module(old: str, stacklevel: int) -> ModuleType:
    new = f"{PACKAGE}.{MOVED[old]}"
    warnings.warn(f"{PACKAGE}.{old} moved to {new}; import it from there (the old name is kept "
                  "for one term)", DeprecationWarning, stacklevel=stacklevel + 1)
    return importlib.import_module(new)


def moved_attribute(name: str) -> ModuleType:
    """``helpers.<name>`` for a moved module, with a warning; AttributeError for any other name."""
    if name not in MOVED:
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
    return _new_module(name, stacklevel=3)  # the frame that wrote helpers.<name>


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``helpers.<old>`` and answers with the module at its new path."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in MOVED:
            return None
        module = _new_module(name, stacklevel=2)  # the importing frame
        return importlib.machinery.ModuleSpec(fullname, self,
                                              loader_state=(module, module.__spec__))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return spec.loader_state[0]

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just set module.__spec__ to the old name's spec; restore the
        # module's own, so that its __spec__.name stays the new path.
        module.__spec__ = module.__spec__.loader_state[1]


def install() -> None:
    """Put one :class:`MovedFinder` first on ``sys.meta_path`` (idempotent).

    First, so that a stale copy of an old file elsewhere on the path (an editable install of
    an older checkout) is never imported under the old name.
    """
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())
