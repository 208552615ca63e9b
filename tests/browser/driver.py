"""Small Playwright helpers for driving a notebook in JupyterLab 4.

JupyterLab is started with ``expose_app_in_browser``, so the page can ask the
app itself to run cells and report the notebook's state.
"""

from __future__ import annotations

import time

NOTEBOOK_STATE = """() => {
  const nb = window.jupyterapp.shell.currentWidget;
  if (!nb || !nb.content || !nb.sessionContext.session) return null;
  const cells = nb.content.widgets.map(w => w.model.toJSON());
  const code = cells.filter(c => c.cell_type === 'code');
  const errors = code.flatMap(c => (c.outputs || []).filter(o => o.output_type === 'error')
                                          .map(o => o.ename + ': ' + o.evalue));
  return {
    status: nb.sessionContext.session.kernel ? nb.sessionContext.session.kernel.status : 'none',
    done: code.filter(c => c.execution_count !== null).length,
    total: code.length,
    errors: errors,
  };
}"""


def open_notebook(page, lab, name: str, timeout: float = 120) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE)
        if state and state["status"] == "idle":
            news = page.get_by_role("button", name="No", exact=True)
            if news.count():  # the "Jupyter news?" toast would cover the widgets
                news.first.click()
            return
        time.sleep(0.5)
    raise TimeoutError(f"kernel for {name} did not become idle")


def run_all(page, timeout: float = 300) -> dict:
    """Clear outputs, run every cell, and wait until all have run; returns the final state."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"() => ({NOTEBOOK_STATE})().done === 0", timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        state = page.evaluate(NOTEBOOK_STATE)
        if state["errors"]:
            return state
        if state["status"] == "idle" and state["done"] == state["total"]:
            return state
    raise TimeoutError(f"notebook did not finish running: {state}")


def widget_root(page, marker: str, index: int = -1):
    """The rendered widget area whose text contains ``marker`` (by default the last one)."""
    areas = page.locator(".widget-vbox, .widget-box")
    found = page.locator(".jp-OutputArea-output").filter(has=areas).filter(has_text=marker)
    loc = found.last if index == -1 else found.nth(index)
    loc.wait_for(state="attached", timeout=120_000)  # widgets render after the kernel replies
    loc.scroll_into_view_if_needed(timeout=60_000)
    return loc


def image_bytes(root) -> bytes:
    """A screenshot of the first widget picture inside ``root`` (what the student sees)."""
    img = root.locator("img").first
    img.wait_for(state="visible", timeout=30_000)
    return img.screenshot()


def nudge_slider(root, label: str, presses: int = 1, key: str = "ArrowRight") -> None:
    """Move the slider whose description is ``label`` with the keyboard, as a user could."""
    slider = root.locator(".widget-slider, .widget-hslider").filter(has_text=label).first
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(presses):
        handle.press(key)


def wait_for_change(root, before: bytes, timeout: float = 60) -> bytes:
    """Wait until the widget picture differs from ``before``; returns the new screenshot."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = image_bytes(root)
        if now != before:
            return now
        time.sleep(0.3)
    raise AssertionError("the picture did not change")


def choose_option(root, label: str, index: int) -> None:
    """Pick option ``index`` of the dropdown whose description is ``label``."""
    dropdown = root.locator(".widget-dropdown").filter(has_text=label).first
    dropdown.locator("select").select_option(index=index)
