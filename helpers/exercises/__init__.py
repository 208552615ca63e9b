"""Exercise checks (练习) for the chapter's notebooks, one module per notebook.

This package is what students import, so it holds no reference answer: every
self-study check compares the student's function with answers stored for a few
fixed inputs (``public_cases.json``, nbgrader's public tests) or checks a
property the answer must have, and prints ✓, ✗ with a hint in Chinese, or ○.
The references and the hidden tests on fresh random inputs live in the
grader-only package ``grader/`` (see docs/teaching.md). A new exercise goes in
the module of its notebook: an input maker, an :func:`exercise` description and
a ``check_*`` that calls :func:`run_check`.
"""

from .core import EXERCISES, Exercise, cycle, exercise, judge, run_check
from . import layers
from . import cam
from . import attention
from . import trust
from . import channels
