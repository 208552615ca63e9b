"""helpers.memory: freed heap pages go back to the system, after every cell of a kernel."""

from __future__ import annotations

import sys

import pytest

from helpers import memory


def _private_dirty_mib() -> float:
    with open("/proc/self/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines()[1:])
    return int(fields["Private_Dirty"].split()[0]) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc are Linux's")
def test_release_memory_returns_freed_heap_pages() -> None:
    chunks = [bytearray(4000) for _ in range(40_000)]  # about 160 MB of small malloc'd blocks
    pin = bytearray(4000)  # the last block keeps the heap's top in use, so free() cannot shrink it
    held = _private_dirty_mib()
    del chunks
    freed = _private_dirty_mib()
    assert memory.release_memory() is True
    after = _private_dirty_mib()
    assert held - freed < 40, "free() already returned the pages: the test proves nothing"
    assert freed - after > 100, (held, freed, after)
    del pin


def test_release_after_cells_registers_once_in_ipython(monkeypatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    assert memory.release_after_cells() is False  # no IPython shell is running here
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: (lambda pad: calls.append(pad) or 1))
    shell = InteractiveShell.instance()
    try:
        assert memory.release_after_cells() and memory.release_after_cells()
        assert shell.events.callbacks["post_run_cell"].count(memory.release_memory) == 1
        shell.run_cell("x = 1")
        shell.run_cell("y = 2")
        assert calls == [0, 0]
    finally:
        shell.events.unregister("post_run_cell", memory.release_memory)
        InteractiveShell.clear_instance()
