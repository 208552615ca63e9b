"""Exercise checks (练习) for the chapter's notebooks, one module per notebook.

Every check tests the student's function on fresh random inputs against the
reference implementation and prints ✓ or ✗ with a hint in Chinese (and, with
a ✗, the seed that ``exercises.replay(seed)`` replays). A new exercise goes in
the module of its notebook: a ``ref_*`` function, an input maker, and a
``check_*`` that calls :func:`run_check`.
"""

from .core import cycle, is_reference, replay, run_check
from . import layers
from . import cam
from . import attention
from . import trust
from . import channels
