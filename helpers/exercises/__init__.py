"""Exercise checks (练习) for the chapter's notebooks, one module per notebook.

Every check tests the student's function on fresh random inputs against the
reference implementation and prints ✓ or ✗ with a hint in Chinese.
"""

from .core import run_check
from . import layers
from . import cam
from . import attention
from . import trust
