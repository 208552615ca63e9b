"""helpers.models.tv: torchvision without torch._dynamo, and the real dynamo afterwards.

One fresh interpreter (the point is what a new kernel imports): ``import helpers``
must leave ``torch._dynamo`` and sympy unimported and no stand-in behind; the
stand-in's ``is_compile_supported`` answers as the real one does; and a later
``torch.compile`` gets the real ``torch._dynamo``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys
import helpers, torch, torchvision
from helpers.models import tv
out = {"dynamo": "torch._dynamo" in sys.modules, "sympy": "sympy" in sys.modules,
       "stand_in_attr": "_dynamo" in torch.__dict__, "transforms": hasattr(torchvision, "transforms")}
mine = {d: tv.is_compile_supported(d) for d in ("cpu", "cuda", "meta")}
from torch._dynamo.utils import is_compile_supported as real
out["same_answers"] = mine == {d: real(d) for d in mine}
out["real_dynamo"] = hasattr(sys.modules["torch._dynamo"], "optimize")
out["compiled"] = torch.compile(lambda x: x * 3, backend="eager")(torch.ones(2)).tolist()
print(json.dumps(out))
"""


def test_helpers_imports_torchvision_without_dynamo_and_dynamo_still_works():
    env = dict(os.environ, PYTHONPATH=str(ROOT), CH9_MODEL_SOURCE="bundled")
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"dynamo": False, "sympy": False, "stand_in_attr": False, "transforms": True,
                   "same_answers": True, "real_dynamo": True, "compiled": [3.0, 3.0]}, out
