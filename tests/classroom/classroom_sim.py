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
    check: str  # e.g. "cam.check_contrast_gradient"
    solution: str  # the teacher's solution cell source
    setup: str  # the notebook's first code cell (imports), magics removed

    @property
    def module(self) -> str:
        return self.check.rpartition(".")[0]

    def reference_name(self) -> str:
        """The reference's name in the grader-only ``grader.references``."""
        from grader.references import REFERENCES

        return REFERENCES[self.check].__name__


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
# doing the work, or None where the trick does not apply to the exercise. The
# references live in the grader-only package ``grader`` (not in what students
# import); at grading time it is importable in the kernel, so a determined
# student can reach it there, in every way below.

REF = "grader.references"


def print_tick(item: Item) -> str:
    return (f"def {item.name}(*args, **kwargs):\n"
            f"    print('✓ {item.name}：3 组随机输入全部正确！')\n")


def alias_reference(item: Item) -> str:
    return f"from {REF} import {item.reference_name()} as {item.name}\n"


def wrap_reference(item: Item) -> str:
    return (f"import {REF}\n_answer = {REF}.{item.reference_name()}\n\n\n"
            f"def {item.name}(*args):\n    return _answer(*args)\n")


def dict_reference(item: Item) -> str:
    return (f"import {REF}\n_table = {{'answer': {REF}.REFERENCES}}\n\n\n"
            f"def {item.name}(*args):\n    return _table['answer']['{item.check}'](*args)\n")


def attribute_reference(item: Item) -> str:
    return (f"import {REF}\n\n\nclass _Box:\n    pass\n\n\n_box = _Box()\n"
            f"_box.solve = {REF}.{item.reference_name()}\n\n\n"
            f"def {item.name}(*args):\n    return _box.solve(*args)\n")


def eval_reference(item: Item) -> str:
    return (f"def {item.name}(*args):\n"
            f"    return eval(\"__import__('{REF}', fromlist=['x']).{item.reference_name()}\")(*args)\n")


def sys_modules_reference(item: Item) -> str:
    return (f"import sys\nimport {REF}\n\n\n"
            f"def {item.name}(*args):\n"
            f"    return getattr(sys.modules['{REF}'], '{item.reference_name()}')(*args)\n")


def importlib_reference(item: Item) -> str:
    return (f"def {item.name}(*args):\n    import importlib\n"
            f"    return getattr(importlib.import_module('{REF}'), '{item.reference_name()}')(*args)\n")


def gc_reference(item: Item) -> str:
    return (f"import gc\nimport {REF}  # noqa: F401 (alive somewhere in memory)\n\n\n"
            f"def {item.name}(*args):\n"
            f"    found = [o for o in gc.get_objects() if getattr(o, '__name__', '') == "
            f"'{item.reference_name()}']\n"
            f"    return found[0](*args)\n")


def partial_reference(item: Item) -> str:
    return (f"import functools\nimport {REF}\n\n"
            f"{item.name} = functools.partial({REF}.{item.reference_name()})\n")


def lambda_reference(item: Item) -> str:
    return (f"from {REF} import REFERENCES as _r\n\n"
            f"{item.name} = lambda *args: _r['{item.check}'](*args)  # noqa: E731\n")


def callable_object(item: Item) -> str:
    return (f"import importlib\n\n\nclass _Solver:\n    def __call__(self, *args):\n"
            f"        module = importlib.import_module('{REF}')\n"
            f"        return vars(module)['{item.reference_name()}'](*args)\n\n\n"
            f"{item.name} = _Solver()\n")


def builtin_callback(item: Item) -> str:  # a C builtin (map) calls the reference back
    return (f"from {REF} import REFERENCES\n\n\n"
            f"def {item.name}(*args):\n"
            f"    return next(map(REFERENCES['{item.check}'], *[[a] for a in args]))\n")


def copied_code(item: Item) -> str:  # the reference's code object in a new function
    return (f"import types\nimport {REF} as _R\n\n"
            f"{item.name} = types.FunctionType(_R.{item.reference_name()}.__code__, vars(_R))\n")


def exec_source(item: Item) -> str:  # the reference compiled again from its file, renamed
    return (f"import {REF} as _R\n_ns = {{}}\n"
            f"exec(compile(open(_R.__file__).read(), 'my_answers.py', 'exec'), _ns)\n"
            f"_mine = _ns['{item.reference_name()}']\n\n\n"
            f"def {item.name}(*args):\n    return _mine(*args)\n")


def profiler_off(item: Item) -> str:  # turns the grader's profiler off, then calls the reference
    return ("import importlib\nimport sys\n\n\n"
            f"def {item.name}(*args):\n    getattr(sys, 'set' + 'profile')(None)  # unseen by a static look\n"
            f"    return getattr(importlib.import_module('{REF}'), '{item.reference_name()}')(*args)\n")


def thread_reference(item: Item) -> str:  # a worker thread started before the grading
    return (f"import queue\nimport threading\nimport {REF}\n"
            "_jobs, _results = queue.Queue(), queue.Queue()\n\n\n"
            "def _worker():\n    for job in iter(_jobs.get, None):  # None stops it\n"
            f"        _results.put({REF}.{item.reference_name()}(*job))\n\n\n"
            "threading.Thread(target=_worker, daemon=True).start()\n\n\n"
            f"def {item.name}(*args):\n    _jobs.put(args)\n    return _results.get()\n")


def subprocess_reference(item: Item) -> str:  # another process computes the reference
    return ("import pickle\nimport subprocess\nimport sys\n\n\n"
            f"def {item.name}(*args):\n"
            "    code = ('import pickle, sys; from grader import references as r; '\n"
            f"            'sys.stdout.buffer.write(pickle.dumps(r.{item.reference_name()}"
            "(*pickle.loads(sys.stdin.buffer.read()))))')\n"
            "    out = subprocess.run([sys.executable, '-c', code], input=pickle.dumps(args),\n"
            "                         capture_output=True, check=True)\n"
            "    return pickle.loads(out.stdout)\n")


LIBRARY_ANSWERS = {  # the library's own implementation of the same computation
    "showimg_normalize": "from helpers.draw import viz\n\n\ndef showimg_normalize(channel):\n"
                         "    return viz.normalize(np.maximum(channel, 0)).astype(np.float64) ** 2\n",
    "top_channels": "from helpers.widgets.feature_maps import rank_channels\n\n\n"
                    "def top_channels(acts, k):\n    return rank_channels(acts)[:k].tolist()\n",
    "gradcam_weights": "import types\nfrom helpers.cam import weights as cam_weights\n\n\n"
                       "def gradcam_weights(grads):\n"
                       "    return cam_weights.grad_cam_weights(types.SimpleNamespace(grads=grads))[0]\n",
    "contribution_map": "from helpers.cam import methods as cam_methods\n\n\n"
                        "def contribution_map(acts, grads):\n"
                        "    res = cam_methods._finish(acts, grads, [0], torch.zeros(1, 2), tuple(acts.shape[-2:]), False)\n"
                        "    return res.raw\n",
    "rollout": "from helpers.trust import attention as attn_trust\n\n\n"
               "def rollout(attn):\n    return attn_trust.attention_rollout(attn)\n",
    "contrast_gradient": "from helpers.cam import engine as cam_engine\n\n\n"
                         "def contrast_gradient(model, layer, x, a, b):\n"
                         "    return (cam_engine.layer_pass(model, layer, x, a)[0].grads\n"
                         "            - cam_engine.layer_pass(model, layer, x, b)[0].grads)\n",
    "deletion_auc": "from helpers.trust import faithfulness as _f\n\n\n"
                    "def deletion_auc(model, x, saliency, class_idx, steps):\n"
                    "    return _f.deletion_curve(model, x, saliency, class_idx, steps).auc\n",
    "pointing_hit": "from helpers.trust import localization as _loc\n\n\n"
                    "def pointing_hit(cam, mask, tolerance):\n"
                    "    return bool(_loc.pointing_game(cam, mask, tolerance))\n",
}


def library_implementation(item: Item) -> str | None:
    return LIBRARY_ANSWERS.get(item.name)


def constant(item: Item) -> str:
    return f"def {item.name}(*args):\n    return 0\n"


def input_unchanged(item: Item) -> str:
    return f"def {item.name}(*args):\n    return args[0]\n"


def patch_check(item: Item) -> str:  # makes the notebook's own check say ✓
    check = item.check.rpartition(".")[2]
    return (f"exercises.{item.module}.{check} = lambda *args, **kwargs: True\n\n\n"
            f"def {item.name}(*args):\n    {STUB}\n")


def patch_library(item: Item) -> str:  # every comparison says "equal" (a callable object, a lambda)
    return ("import numpy\nimport torch\n\n\nclass _Yes:\n    def __call__(self, *args, **kwargs):\n"
            "        return True\n\n\n"
            "numpy.allclose = _Yes()\n"
            "torch.allclose = lambda *args, **kwargs: True\n\n\n"
            f"def {item.name}(*args):\n    return args[0]\n")


def always_equal(item: Item) -> str:  # fools the instant check where the answer is an int or str
    return ("class _Anything:\n    def __eq__(self, other):\n        return True\n\n"
            "    __hash__ = object.__hash__\n\n\n"
            f"def {item.name}(*args):\n    return _Anything()\n")


def peek_expected(item: Item) -> str:  # reads the expected value from the caller's frames
    return ("import sys\n\n\n"
            f"def {item.name}(*args):\n"
            "    frame = sys._getframe(1)\n"
            "    while frame is not None and 'expected' not in frame.f_locals:\n"
            "        frame = frame.f_back\n"
            "    return frame.f_locals['expected']\n")


def replace_grader(item: Item) -> str:  # rewrites the grader in the kernel before the hidden test
    return ("import sys\nimport types\nimport grader\nimport grader.grading\n\n\n"
            "def _pass(*args, **kwargs):\n    print('✓ 评分通过')\n\n\n"
            "grader.grade = grader.grading.grade = _pass\n"
            "_fake = types.ModuleType('grader')\n_fake.grade = _pass\n"
            "sys.modules['grader'] = sys.modules['grader.grading'] = _fake\n\n\n"
            f"def {item.name}(*args):\n    {STUB}\n")


def hook_import(item: Item) -> str:  # every later `import grader` gets a grader that passes all
    return ("import builtins\nimport types\n\n_fake = types.ModuleType('grader')\n"
            "_fake.grade = lambda *args, **kwargs: print('✓ 评分通过')\n"
            "_import = builtins.__import__\n\n\n"
            "def _hooked(name, *args, **kwargs):\n"
            "    return _fake if name.partition('.')[0] == 'grader' else _import(name, *args, **kwargs)\n\n\n"
            "builtins.__import__ = _hooked\n\n\n"
            f"def {item.name}(*args):\n    {STUB}\n")


from classroom_tricks import (  # noqa: E402 (kinds that attack the watcher itself, or the kernel)
    builtin_routed_profiler_off, builtin_worker, disarm_watcher, kernel_says_ok, key_from_disk,
    library_says_yes, numpy_scalar_lie, relabelled_code, rewrite_hidden_cell, signal_handler,
    tensor_own_methods, thread_by_builtin, vectorized_comparison)

GAMING = [alias_reference, wrap_reference, dict_reference, attribute_reference, eval_reference,
          sys_modules_reference, importlib_reference, gc_reference, partial_reference,
          lambda_reference, callable_object, builtin_callback, copied_code, exec_source, profiler_off,
          thread_reference, subprocess_reference, library_implementation, print_tick, constant,
          input_unchanged, patch_check, patch_library, always_equal, peek_expected, replace_grader,
          hook_import, builtin_routed_profiler_off, disarm_watcher, relabelled_code, signal_handler,
          library_says_yes, numpy_scalar_lie, builtin_worker, tensor_own_methods, vectorized_comparison,
          kernel_says_ok, rewrite_hidden_cell, thread_by_builtin, key_from_disk]
"""Every way of not doing the work that the grader must turn into 0 points."""

KERNEL_ONLY = [kernel_says_ok, rewrite_hidden_cell, thread_by_builtin, key_from_disk]
"""The kinds that beat the hidden test in the student's kernel: only nbgrader autograde, with its
second verdict from a process of its own (grader/isolated.py), turns them into 0 points."""

BORROWING = [*GAMING[:GAMING.index(library_implementation) + 1], builtin_routed_profiler_off,
             disarm_watcher, relabelled_code, signal_handler, builtin_worker]
"""The kinds that run a reference or the library's own implementation (their reason names it)."""
