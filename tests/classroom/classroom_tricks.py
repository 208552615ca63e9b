"""Gaming kinds that attack the grader's watcher itself (issue 24's second held-out trial).

Each returns the source of a solution cell, as in :mod:`classroom_sim` (which lists them in
``GAMING``): turning the profiler off through a builtin, reaching the watcher's frame, a
reference relabelled as a library file, a signal handler or a builtins-only worker thread
that runs the reference off the watched thread, library comparisons replaced by trusted
callables, and return values that answer the comparison themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from classroom_sim import Item

REF = "grader.references"


def builtin_routed_profiler_off(item: Item) -> str:  # the profiler turned off by a builtin calling a
    # builtin (no c_call event), the reference run, the profiler put back
    return ("import functools\nimport importlib\nimport sys\n\n\n"
            f"def {item.name}(*args):\n    saved = sys.getprofile()\n"
            "    functools.reduce(lambda _, f: f(None), [getattr(sys, 'set' + 'profile')], 0)\n"
            f"    out = getattr(importlib.import_module('{REF}'), '{item.reference_name()}')(*args)\n"
            "    functools.reduce(lambda _, f: f(saved), [getattr(sys, 'set' + 'profile')], 0)\n"
            "    return out\n")


def disarm_watcher(item: Item) -> str:  # a traceback's frame leads to the watcher: empty its rules
    return ("import importlib\n\n\n"
            f"def {item.name}(*args):\n    try:\n        1 / 0\n    except ZeroDivisionError as err:\n"
            "        frame = getattr(getattr(err.__traceback__, 'tb_' + 'frame'), 'f_' + 'back')\n"
            "    for cell in getattr(frame, 'f_' + 'locals')['profile'].__closure__ or ():\n"
            "        if type(cell.cell_contents).__name__ == 'Forbidden':\n"
            "            object.__setattr__(cell.cell_contents, 'places', frozenset())\n"
            f"    return getattr(importlib.import_module('{REF}'), '{item.reference_name()}')(*args)\n")


def relabelled_code(item: Item) -> str:  # the reference's code object claiming a real library file
    return (f"import json\nimport types\nimport {REF} as _R\n\n"
            f"{item.name} = types.FunctionType(_R.{item.reference_name()}.__code__.replace("
            "co_filename=json.__file__), vars(_R))\n")


def signal_handler(item: Item) -> str:  # a signal handler runs the reference on the grader's thread
    return (f"import os\nimport signal\nimport time\nimport {REF} as _R\n\n_box = {{}}\n\n\n"
            "def _on_signal(signum, frame):\n    if 'args' in _box:\n"
            f"        _box['out'] = _R.{item.reference_name()}(*_box.pop('args'))\n\n\n"
            "signal.signal(signal.SIGUSR2, _on_signal)\n\n\n"
            f"def {item.name}(*args):\n    _box['args'] = args\n    os.kill(os.getpid(), signal.SIGUSR2)\n"
            "    for _ in range(400):\n        if 'out' in _box:\n            return _box.pop('out')\n"
            "        time.sleep(0.005)\n")


def library_says_yes(item: Item) -> str:  # numpy's and torch's comparisons replaced by trusted
    # callables of another package that say yes to anything
    return ("import unittest.mock\n\nimport numpy\nimport torch\n\n\n"
            "numpy.allclose = 'yes'.format\ntorch.allclose = unittest.mock.MagicMock(return_value=True)\n\n\n"
            f"def {item.name}(*args):\n    return args[0]\n")


def numpy_scalar_lie(item: Item) -> str:  # a numpy scalar subclass that claims numpy and equals all
    return ("import numpy as np\n\n\nclass _Equal(np.float64):\n    __module__ = 'numpy'\n\n"
            "    def __eq__(self, other):\n        return True\n\n"
            "    def __sub__(self, other):\n        return 0.0\n\n    __hash__ = np.float64.__hash__\n\n\n"
            f"def {item.name}(*args):\n    return _Equal(0.0)\n")


def builtin_worker(item: Item) -> str:  # a thread whose loop is builtins only (no Python frame while
    # idle), started before the grading, runs the reference handed to it
    return ("import _queue\nimport collections\nimport operator\nimport threading\n"
            f"import {REF} as _R\n\n_jobs, _out = _queue.SimpleQueue(), _queue.SimpleQueue()\n"
            "threading.Thread(target=collections.deque, args=(map(operator.call, iter(_jobs.get, None)), 0),\n"
            "                 daemon=True).start()\n\n\n"
            f"def {item.name}(*args):\n"
            f"    _jobs.put(lambda: _out.put(_R.{item.reference_name()}(*args)))\n    return _out.get()\n")


def tensor_own_methods(item: Item) -> str:  # a plain tensor whose own attributes answer the comparison
    return ("import numpy as np\nimport torch\n\n\nclass _Same(np.ndarray):\n"
            "    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):\n"
            "        return np.True_\n\n    def astype(self, *args, **kwargs):\n        return self\n\n\n"
            "class _Pipe:\n    def __init__(self, shape):\n        self.shape = shape\n\n"
            "    def cpu(self):\n        return self\n\n    def numpy(self):\n"
            "        return np.zeros(self.shape).view(_Same)\n\n\n"
            f"def {item.name}(*args):\n    out = torch.zeros(2, 2)\n"
            "    out.detach = lambda: _Pipe(tuple(out.shape))\n    return out\n")


def vectorized_comparison(item: Item) -> str:  # numpy's own vectorize around notebook code as allclose
    return ("import numpy\n\nnumpy.allclose = numpy.vectorize(lambda *args, **kwargs: True, otypes=[bool])\n\n\n"
            f"def {item.name}(*args):\n    return args[0]\n")


# Kinds that own the student's kernel: the hidden test in the kernel cannot see them (issue 24's
# held-out trials). Only the second verdict, in a process of its own (grader/isolated.py), does.

def kernel_says_ok(item: Item) -> str:  # every reply says "ok" and no traceback is shown
    return ("_ip = get_ipython()\n_kernel = _ip.kernel\n\n\n"
            "def _wrap(original):\n    async def _do_execute(*args, **kwargs):\n"
            "        reply = await original(*args, **kwargs)\n        reply['status'] = 'ok'\n        return reply\n"
            "    _do_execute.wrapped = True\n    return _do_execute\n\n\n"
            "if not getattr(_kernel.do_execute, 'wrapped', False):\n    _kernel.do_execute = _wrap(_kernel.do_execute)\n"
            "_ip.showtraceback = lambda *args, **kwargs: None\n\n\n"
            f"def {item.name}(*args):\n    raise NotImplementedError\n")


def rewrite_hidden_cell(item: Item) -> str:  # an IPython input transformer replaces the hidden test
    return ("def _rewrite(lines):\n"
            "    if any('_ch9_hidden_test' in line for line in lines):\n"
            "        return ['print(\"✓ 评分通过\")\\n']\n    return lines\n\n\n"
            "get_ipython().input_transformers_cleanup.append(_rewrite)\n\n\n"
            f"def {item.name}(*args):\n    raise NotImplementedError\n")


def thread_by_builtin(item: Item) -> str:  # the reference run on a thread that a builtin starts
    # (Python 3.11 raises no audit event for it; the profiler is not on that thread)
    return ("import _thread\nimport importlib\nimport time\n\n"
            f"_mods = {{'r': importlib.import_module('{REF}')}}\n\n\n"
            f"def {item.name}(*args):\n    box = []\n    ref = getattr(_mods['r'], '{item.reference_name()}')\n"
            "    for _ in map(_thread.start_new_thread, [lambda: box.append(ref(*args))], [()]):\n        pass\n"
            "    while not box:\n        time.sleep(0.002)\n    return box[0]\n")


def key_from_disk(item: Item) -> str:  # the answer key read from its file while grading, renamed, run
    return ("import importlib.util\n\nimport numpy as np_\nimport torch as torch_\n\n\n"
            f"def {item.name}(*args):\n"
            "    folder = importlib.util.find_spec('grader').submodule_search_locations[0]\n"
            "    source = open(folder + '/references.py').read().replace('torch.', 'torch_.').replace('np.', 'np_.')\n"
            "    space = {'torch_': torch_, 'np_': np_}\n"
            "    exec(compile(source, '<my notes>', 'exec'), space)\n"
            f"    return space['{item.reference_name()}'](*args)\n")
