"""Exercise checks (练习) for the chapter's notebooks, one module per notebook.

This package is what students import, so it holds no reference answer: every
self-study check compares the student's function with answers stored for a few
fixed inputs (``public_cases.json``, nbgrader's public tests) or checks a
property the answer must have, and prints ✓, ✗ with a hint in Chinese, or ○.
The references and the hidden tests on fresh random inputs live in the
grader-only package ``grader/`` (see docs/teaching.md). A new exercise goes in
the module of its notebook: an input maker and a ``check_*`` made by
:func:`self_check` (or an :func:`exercise` and a ``def`` that calls :func:`run_check`
when the check does more, e.g. a trial on the notebook's model).
"""

from .core import EXERCISES, Exercise, cycle, exercise, judge, run_check, self_check
from . import layers
from . import cam
from . import attention
from . import trust
from . import channels
