"""The flat module names from before the packages still resolve, to the same module, and warn."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import helpers
from helpers._moved import MOVED

ROOT = Path(__file__).resolve().parent.parent


def forget(old: str) -> None:
    """Undo an earlier import of ``helpers.<old>``, so that the next one goes through the alias."""
    sys.modules.pop(f"helpers.{old}", None)
    helpers.__dict__.pop(old, None)


def test_every_new_path_is_a_module_file():
    for new in MOVED.values():
        assert (ROOT / "helpers" / (new.replace(".", "/") + ".py")).is_file(), new
    assert not [old for old in MOVED if (ROOT / "helpers" / f"{old}.py").exists()]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_attribute_is_the_new_module_and_warns(old):
    new = importlib.import_module(f"helpers.{MOVED[old]}")
    forget(old)
    message = rf"helpers\.{old} moved to helpers\.{MOVED[old]}\b"
    with pytest.warns(DeprecationWarning, match=message) as rec:
        module = getattr(helpers, old)
    assert module is new
    assert rec[0].filename == __file__  # the warning points at the line that used the old name


@pytest.mark.parametrize("old", sorted(MOVED))
def test_import_of_old_path_is_the_new_module_and_warns(old):
    new = importlib.import_module(f"helpers.{MOVED[old]}")
    forget(old)
    with pytest.warns(DeprecationWarning, match=rf"helpers\.{MOVED[old]}\b"):
        module = importlib.import_module(f"helpers.{old}")
    assert module is new
    assert module.__spec__.name == module.__name__ == f"helpers.{MOVED[old]}"
    forget(old)


def test_statements_in_a_fresh_interpreter():
    """``from helpers import x``, ``import helpers.x`` and ``from helpers.x import y`` each warn."""
    code = (
        "import warnings, sys\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    from helpers import faithfulness\n"
        "    import helpers.cam_engine\n"
        "    from helpers.textviz import model_view\n"
        "    import helpers.shapes as shapes\n"
        "import helpers.trust.faithfulness, helpers.cam.engine, helpers.draw.textviz\n"
        "import helpers.toy.world\n"
        "assert faithfulness is helpers.trust.faithfulness\n"
        "assert helpers.cam_engine is helpers.cam.engine\n"
        "assert model_view is helpers.draw.textviz.model_view\n"
        "assert shapes is helpers.toy.world\n"
        "print(sorted({str(x.message).split()[0] for x in w\n"
        "              if x.category is DeprecationWarning}))\n"
        "print(sorted({x.filename for x in w}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.splitlines()
    assert out[0] == str(sorted(["helpers.faithfulness", "helpers.cam_engine", "helpers.textviz",
                                 "helpers.shapes"]))
    assert out[1] == "['<string>']"


def test_unknown_names_still_fail():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        helpers.nosuch  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("helpers.nosuch")


def test_own_code_uses_no_old_path():
    """Importing every module of ours, with DeprecationWarning as an error, raises nothing."""
    code = ("import importlib, pkgutil, helpers\n"
            "for m in pkgutil.walk_packages(helpers.__path__, 'helpers.'):\n"
            "    importlib.import_module(m.name)\n")
    subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code], cwd=ROOT,
                   check=True, capture_output=True, text=True)


def test_import_helpers_stays_light():
    code = ("import sys, helpers\n"
            "heavy = ('transformers', 'ipywidgets', 'helpers.text', 'helpers.widgets')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.strip()
    assert out == "[]"
