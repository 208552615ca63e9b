"""Run-wide pytest hooks (tests/conftest.py holds the fixtures).

Under pytest-xdist with ``--dist loadgroup`` (``make test``), all cells of one notebook
validated by nbval go to the same worker, in order, since they share one kernel; the
other tests, including every parametrized notebook run of tests/tvpath and tests/editions,
are spread over the workers one by one.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if path.endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(name=path))
