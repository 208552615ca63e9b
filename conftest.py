"""Run-wide pytest hooks (tests/conftest.py holds the fixtures).

``make test`` runs the unit tests and the notebook runs on pytest-xdist workers with
``--dist loadgroup``. Here that means: all cells of one notebook validated by nbval go
to the same worker, in order, since they share one kernel; every other test, including
each parametrized notebook run of tests/tvpath and tests/editions, is a unit of its own.
xdist's own loadgroup reads ``xdist_group`` marks by rewriting ``item._nodeid``, which
pytest 9 no longer reads (the node id is derived), so the grouping is done here by the
scheduler's scope instead.
"""

from __future__ import annotations

import pytest


def notebook_scope(nodeid: str) -> str:
    """The notebook's path for an nbval cell (``x.ipynb::Cell 3``), else the test itself."""
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return notebook_scope(nodeid)

    return NotebookScheduling(config, log)
