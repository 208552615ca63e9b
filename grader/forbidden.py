"""Which functions a graded answer may not run: the references, the checks, the library's own version.

A function is identified by its code, not by the name a student gives it:

* ``(file, qualname)`` of its code object, the file taken relative to the package
  folder (``helpers/cam_weights.py``), so a fresh copy of a module (the grader's)
  and the student's copy are the same function;
* for any other code that was not typed in a notebook cell (compiled at run
  time by ``exec``/``compile``, or a code object relabelled with
  ``code.replace(co_filename=<a real file>)``), a fingerprint of its bytecode
  (instructions, names, constants), so a copy of a reference is still the same.
  Code typed in a notebook cell is never fingerprinted: an honest answer may be
  the same one-line formula as the reference.

For every exercise that is all of ``grader/`` (the references), every function
of ``helpers/exercises/`` except the methods of the classes made as inputs (the
toy networks the student's answer must call), and the library's implementation
of the same computation listed in :data:`LIBRARY`.
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READERS: list = []  # the hidden test's file reader (grader.boot), so a patched pathlib cannot hide code


def _source(path: Path) -> str:
    return READERS[0](str(path)).decode("utf-8") if READERS else path.read_text(encoding="utf-8")
PACKAGES = ("helpers", "grader")

# The library's own implementation of each exercise's computation: (file candidates, qualname).
# Files are listed under their present name and under their place in the family layout.
_CAM = ("cam.py", "cam/methods.py")
_WEIGHTS = ("cam_weights.py", "cam/weights.py")
_ENGINE = ("cam_engine.py", "cam/engine.py")
_TEXTMODELS = ("textmodels.py", "text/models.py")
LIBRARY: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "layers.check_showimg_normalize": ((("arrays.py",), "minmax"), (("viz.py", "draw/viz.py"), "normalize")),
    "layers.check_top_channels": ((("widgets/feature_maps.py",), "rank_channels"),
                                  (("widgets/feature_maps.py",), "FeatureMapExplorer.ranks")),
    "cam.check_cam_from_weights": ((_CAM, "class_weight_cam"), (_CAM, "_finish"), (_CAM, "run"),
                                   (_CAM, "finish"), (_CAM, "weighted_sum")),
    "cam.check_region_drop": ((_CAM, "class_weight_cam"), (_CAM, "_finish"), (_CAM, "run"),
                                   (_CAM, "finish"), (_CAM, "weighted_sum")),
    "cam.check_gradcam_weights": ((_WEIGHTS, "grad_cam_weights"), (_CAM, "grad_cam"), (_CAM, "run")),
    "cam.check_contribution_map": ((_WEIGHTS, "hires_cam_weights"), (_CAM, "run"), (_CAM, "_finish"),
                                   (_CAM, "finish"), (_CAM, "weighted_sum")),
    "cam.check_contrast_gradient": ((_ENGINE, "layer_pass"),),
    "attention.check_masked_softmax": ((_TEXTMODELS, "AttnGRUClassifier.attend"),
                                       (_TEXTMODELS, "SelfAttention.forward")),
    "attention.check_attention_probs": ((_TEXTMODELS, "SelfAttention.forward"),),
    "attention.check_rollout": ((("attn_trust.py", "trust/attention.py"), "attention_rollout"),),
    "trust.check_deletion_auc": ((("faithfulness.py", "trust/faithfulness.py"), "*"),
                                 (("trust/metric.py",), "*")),
    "trust.check_pointing_hit": ((("localization.py", "trust/localization.py"), "*"),),
    "channels.check_channel_iou": ((("channels/dissect.py",), "*"),),
}
"""Per exercise; ``"*"`` is every function of the file."""


def place(filename: str) -> str | None:
    """``"helpers/cam.py"`` for any path of a file of our packages, else None."""
    parts = Path(filename).parts
    for k in range(len(parts) - 2, -1, -1):
        if parts[k] in PACKAGES:
            return "/".join(parts[k:])
    return None


_CELL = re.compile(r"^<ipython-input-|[/\\]ipykernel_\d+[/\\]")


@lru_cache(maxsize=4096)
def compiled_at_run_time(filename: str) -> bool:
    """True for code that is neither typed in a notebook cell nor read from a real file."""
    return not (_CELL.search(filename) or filename.startswith("<frozen ") or os.path.isfile(filename))


def qualname(code: types.CodeType) -> str:
    """The code's qualified name (``co_qualname``, Python 3.11+; its plain name before)."""
    return getattr(code, "co_qualname", code.co_name)


def fingerprint(code: types.CodeType) -> tuple:
    """What a copy of ``code`` keeps whatever its file, local names and docstring:
    instructions, global and attribute names, constants."""
    consts = code.co_consts[1:] if code.co_consts[:1] and isinstance(code.co_consts[0], str) \
        else code.co_consts  # a docstring is not code
    consts = tuple("<code>" if isinstance(c, types.CodeType) else repr(c) for c in consts)
    return code.co_code, code.co_names, consts, code.co_argcount


_PRINTS: dict[int, tuple[types.CodeType, tuple]] = {}


def _print(code: types.CodeType) -> tuple:
    """:func:`fingerprint`, computed once per code object (the profiler asks at every call)."""
    known = _PRINTS.get(id(code))
    if known is None or known[0] is not code:
        known = _PRINTS[id(code)] = (code, fingerprint(code))
    return known[1]


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


@lru_cache(maxsize=None)
def _compiled(relative: str) -> tuple[types.CodeType, ...]:
    """Every code object of a file of ours (module code excluded), compiled from disk."""
    path = ROOT / relative
    module = compile(_source(path), str(path), "exec")
    return tuple(c for c in _codes(module) if c is not module)


def _class_names(relative: str) -> frozenset[str]:
    import ast

    tree = ast.parse(_source(ROOT / relative))
    return frozenset(n.name for n in tree.body if isinstance(n, ast.ClassDef))


@dataclass(frozen=True)
class Forbidden:
    """The functions one exercise's answer may not run, and a readable name for each."""

    places: frozenset[tuple[str, str]]  # (place(file), qualname)
    prints: frozenset[tuple]  # fingerprints
    small: int = 8  # bytecode shorter than this is too common to fingerprint

    def why(self, code: types.CodeType) -> str | None:
        """A readable name of the forbidden function ``code`` belongs to, or None."""
        where = place(code.co_filename)
        if where is not None and (where, qualname(code)) in self.places:
            return f"{where.removesuffix('.py').replace('/', '.')}.{qualname(code)}"
        if where is None and len(code.co_code) >= self.small and not _CELL.search(code.co_filename) \
                and _print(code) in self.prints:  # a copy, whatever file name it claims
            return f"{qualname(code)}（与参考答案或库函数的字节码相同的副本）"
        return None


def _selected(check: str) -> Iterator[tuple[str, types.CodeType]]:
    for path in sorted((ROOT / "grader").glob("*.py")):
        relative = f"grader/{path.name}"
        yield from ((relative, c) for c in _compiled(relative))
    for path in sorted((ROOT / "helpers" / "exercises").glob("*.py")):
        relative = f"helpers/exercises/{path.name}"
        inputs = _class_names(relative)  # the toy networks: their methods are the inputs' own
        yield from ((relative, c) for c in _compiled(relative)
                    if qualname(c).split(".")[0] not in inputs)
    for files, name in LIBRARY.get(check, ()):
        relative = next((f"helpers/{f}" for f in files if (ROOT / "helpers" / f).is_file()), None)
        if relative is None:
            raise FileNotFoundError(f"none of {files} in helpers/ (forbidden.LIBRARY of {check})")
        found = [c for c in _compiled(relative) if name == "*" or qualname(c) == name
                 or qualname(c).startswith(f"{name}.<locals>.")]
        if not found:
            raise LookupError(f"{name} not in {relative} (forbidden.LIBRARY of {check})")
        yield from ((relative, c) for c in found)


@lru_cache(maxsize=None)
def forbidden(check: str) -> Forbidden:
    """What the answer to ``check`` (e.g. ``"cam.check_contrast_gradient"``) may not run."""
    chosen = list(_selected(check))
    return Forbidden(frozenset((rel, qualname(c)) for rel, c in chosen),
                     frozenset(fingerprint(c) for _, c in chosen))
