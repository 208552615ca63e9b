"""JupyterLab in Chromium: the notebooks run, and moving a widget changes the picture.

Screenshots are saved under build/browser/.
"""

from __future__ import annotations

from driver import open_notebook, run_all

from conftest import BUILD


def test_start_here_runs_in_jupyterlab(lab, page):
    open_notebook(page, lab, "00_start_here.ipynb")
    state = run_all(page)
    assert state["errors"] == [] and state["done"] == state["total"]
    # The matplotlib figure with a Chinese title was rendered as a PNG output.
    assert page.locator(".jp-RenderedImage img").count() >= 1
    page.screenshot(path=str(BUILD / "00_start_here.png"), full_page=True)
