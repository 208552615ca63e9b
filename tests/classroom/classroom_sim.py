"""What simulated students write: honest answers, stubs and gaming attempts, as cell sources.

Shared by the grading unit test and the nbgrader class test. Every exercise is
found from the teacher notebooks by ``scripts/make_assignments.py``, so the
exercises that later notebooks add are covered without editing this file.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import make_assignments  # noqa: E402

STUB = 'raise NotImplementedError("练习：请在这里写出你的代码")'


@dataclass
class Item:
    """One exercise of one notebook, with the teacher's answer."""

    notebook: str  # stem, also the nbgrader assignment id
    name: str
    check: str  # e.g. "cam.check_gradcam_map"
    solution: str  # the teacher's solution cell source
    setup: str  # the notebook's first code cell (imports), magics removed

    @property
    def module(self) -> str:
        return self.check.rpartition(".")[0]

    def reference_name(self) -> str:
        """The reference function in helpers.exercises (``ref_<name>`` or ``_<name>``)."""
        module = importlib.import_module(f"helpers.exercises.{self.module}")
        for candidate in (f"ref_{self.name}", f"_{self.name}"):
            if callable(getattr(module, candidate, None)):
                return candidate
        raise LookupError(f"no reference for {self.name} in helpers.exercises.{self.module}")


def teacher_notebooks() -> list[Path]:
    return [p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
            if any("solution" in c.metadata.get("tags", []) for c in nbformat.read(p, 4).cells)]


def items(path: Path) -> list[Item]:
    nb = nbformat.read(path, as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    setup = "\n".join(ln for ln in setup.splitlines() if not ln.lstrip().startswith("%"))
    return [Item(path.stem, ex.name, ex.check, nb.cells[ex.solution].source, setup)
            for ex in make_assignments.find_exercises(nb, path.name)]


# ---------------------------------------------------------------- gaming ---
# Each returns the source of a solution cell that defines item.name without
# doing the work. Those marked "fools the instant check" pass exercises.check_*.


def print_tick(item: Item) -> str:
    return (f"def {item.name}(*args, **kwargs):\n"
            f"    print('✓ {item.name}：3 组随机输入全部正确！')\n")


def alias_reference(item: Item) -> str:  # fools the instant check
    return f"{item.name} = exercises.{item.module}.{item.reference_name()}\n"


def import_reference(item: Item) -> str:  # fools the instant check
    return f"from helpers.exercises.{item.module} import {item.reference_name()} as {item.name}\n"


def wrap_reference(item: Item) -> str:  # fools the instant check
    return (f"_answer = exercises.{item.module}.{item.reference_name()}\n\n\n"
            f"def {item.name}(*args):\n    return _answer(*args)\n")


def constant(item: Item) -> str:
    return f"def {item.name}(*args):\n    return 0\n"


def input_unchanged(item: Item) -> str:
    return f"def {item.name}(*args):\n    return args[0]\n"


def patch_check(item: Item) -> str:  # makes the notebook's own check say ✓
    check = item.check.rpartition(".")[2]
    return (f"exercises.{item.module}.{check} = lambda *args, **kwargs: True\n\n\n"
            f"def {item.name}(*args):\n    {STUB}\n")


def always_equal(item: Item) -> str:  # fools the instant check where the answer is an int or str
    return ("class _Anything:\n    def __eq__(self, other):\n        return True\n\n"
            "    __hash__ = object.__hash__\n\n\n"
            f"def {item.name}(*args):\n    return _Anything()\n")


def peek_expected(item: Item) -> str:  # fools the instant check: reads the expected value
    return ("import sys\n\n\n"
            f"def {item.name}(*args):\n"
            "    frame = sys._getframe(1)\n"
            "    while frame is not None and 'expected' not in frame.f_locals:\n"
            "        frame = frame.f_back\n"
            "    return frame.f_locals['expected']\n")


GAMING = [print_tick, alias_reference, import_reference, wrap_reference, constant,
          input_unchanged, patch_check, always_equal, peek_expected]
