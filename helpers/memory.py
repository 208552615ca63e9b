"""Hand a notebook kernel's freed memory back to the operating system after every cell.

glibc's ``malloc`` keeps the memory of freed tensors and Python objects in the
process for reuse; a kernel that ran a notebook's forward and backward passes
holds on to about 100 MiB it no longer uses, and on a class server every
student's kernel counts. :func:`release_after_cells` registers one IPython
``post_run_cell`` callback that calls ``malloc_trim(0)``: after a cell, the
free pages go back, so the kernel's private memory is what its variables hold.
Elsewhere (another C library, a plain Python process) it does nothing.

Imports nothing of ours. Introduced in notebooks/00_start_here (``helpers.setup`` calls it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None


def release_memory(*_: object) -> bool:
    """Return the C heap's free pages to the system now; ``True`` when any were returned."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def release_after_cells() -> bool:
    """Call :func:`release_memory` after every cell of the running IPython kernel (once).

    Returns:
        ``True`` when the callback is registered (now or before), ``False`` outside
        IPython or where ``malloc_trim`` does not exist.
    """
    ip = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if ip is None or _malloc_trim() is None:
        return False
    callbacks = ip.events.callbacks["post_run_cell"]
    if release_memory not in callbacks:
        ip.events.register("post_run_cell", release_memory)
    return True
