"""Small Playwright helpers for driving a notebook in JupyterLab 4.

JupyterLab is started with ``expose_app_in_browser``, so the page can ask the
app itself to run cells and report the notebook's state.

Every notebook opens in a workspace of its own, and the server keeps its
workspaces in a folder of its own (conftest.py). JupyterLab saves the open tabs
in the workspace named in the URL (``default`` when none is named), in the
user's folder shared by every JupyterLab of the account, and reopens them on
the next page load. Before, the page of the fourth test reopened the three
notebooks before it (the first test of a run, every notebook of the run before)
and started a kernel for each; a restored tab was the current one for seconds
before the test's notebook (3.6 s for 9.1, 13 s for 9.2.2 on a loaded machine),
and the wait took any current notebook whose kernel was idle. The commands below
then ran another notebook, every cell of it, and the explorer the test waited for
never rendered (or rendered in a tab that was then hidden, so that scrolling to it
waited). The state below names the notebook it describes, and a test fails at
once when it is not the one the test opened or another tab is open.
"""

from __future__ import annotations

import itertools
import time

_workspaces = itertools.count()

# The state of the current notebook; with a number ``upto``, of its first ``upto`` cells only;
# with a list of indices, of those cells only.
NOTEBOOK_STATE = """(upto) => {
  const nb = window.jupyterapp.shell.currentWidget;
  if (!nb || !nb.content || !nb.sessionContext || !nb.sessionContext.session) return null;
  const chosen = Array.isArray(upto) ? nb.content.widgets.filter((w, i) => upto.includes(i))
                                     : nb.content.widgets.slice(0, upto == null ? undefined : upto);
  const cells = chosen.map(w => w.model.toJSON());
  const code = cells.filter(c => c.cell_type === 'code');
  const errors = code.flatMap(c => (c.outputs || []).filter(o => o.output_type === 'error')
                                          .map(o => o.ename + ': ' + o.evalue));
  return {
    path: nb.context.path,
    id: nb.id,
    open: Array.from(window.jupyterapp.shell.widgets('main')).filter(w => w.context).map(w => w.context.path),
    status: nb.sessionContext.session.kernel ? nb.sessionContext.session.kernel.status : 'none',
    done: code.filter(c => c.execution_count !== null).length,
    total: code.length,
    errors: errors,
  };
}"""


class WrongNotebook(AssertionError):
    """The current notebook is not the one the test opened."""


def notebook_state(page, name: str, upto: int | None = None) -> dict | None:
    """The state of the current notebook, which must be ``name`` (else :class:`WrongNotebook`)."""
    state = page.evaluate(NOTEBOOK_STATE, upto)
    if state is not None and state["path"] != name:
        raise WrongNotebook(f"the current notebook is {state['path']}, not {name}; "
                            f"open tabs: {state['open']}")
    return state


def open_notebook(page, lab, name: str, timeout: float = 120) -> None:
    """Open ``name`` alone, in a new workspace, and wait until its kernel is idle."""
    workspace = f"test-{next(_workspaces)}"
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE)
        if state and state["path"] == name and state["status"] == "idle":
            if state["open"] != [name]:
                raise WrongNotebook(f"other tabs are open beside {name}: {state['open']}")
            news = page.get_by_role("button", name="No", exact=True)
            if news.count():  # the "Jupyter news?" toast would cover the widgets
                news.first.click()
            return
        time.sleep(0.5)
    raise TimeoutError(f"kernel for {name} did not become idle")


# Selects the cell after the first code cell whose source contains ``until``; returns how many
# cells are then above the selection (-1 when no cell contains ``until``).
SELECT_AFTER = """(until) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const i = nb.widgets.findIndex(w => w.model.type === 'code' && w.model.sharedModel.getSource().includes(until));
  if (i < 0 || i + 1 >= nb.widgets.length) return -1;
  nb.activeCellIndex = i + 1;
  return i + 1;
}"""


def run_all(page, name: str, until: str | None = None, timeout: float = 300) -> dict:
    """Clear outputs, run the cells of ``name``, and wait until they have run; returns the final state.

    Args:
        until: run only the cells up to and including the first code cell whose source
            contains this text (the cell that shows a widget); ``None`` runs every cell.
    """
    notebook_state(page, name)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"() => ({NOTEBOOK_STATE})().done === 0", timeout=30_000)
    upto = None
    if until is None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    else:
        upto = page.evaluate(SELECT_AFTER, until)
        assert upto > 0, f"no code cell of {name} (before its last) contains {until!r}"
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-above')")
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        state = notebook_state(page, name, upto)
        if state["errors"]:
            return state
        if state["status"] == "idle" and state["done"] == state["total"]:
            return state
    raise TimeoutError(f"notebook did not finish running: {state}")


# Runs one cell (the first code cell whose source contains ``text``) as a user would; returns its index.
RUN_CELL = """(text) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const i = nb.widgets.findIndex(w => w.model.type === 'code' && w.model.sharedModel.getSource().includes(text));
  if (i < 0) return -1;
  nb.activeCellIndex = i;
  window.jupyterapp.commands.execute('notebook:run-cell');
  return i;
}"""

# Runs code in the notebook's kernel without a cell; returns the reply's status.
RUN_IN_KERNEL = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({code: code, silent: false, store_history: false}).done;
  return reply.content.status;
}"""


def run_widget_cell(page, name: str, cell: str, needs: str | None = None, cells: tuple[str, ...] = (),
                    timeout: float = 300) -> dict:
    """Clear outputs and run only what a widget needs: the first code cell (imports and
    ``helpers.setup()``), then ``needs`` in the kernel, or the notebook's ``cells`` (each given
    by a line it contains, run as cells, in order), then the cell containing ``cell``.

    For a notebook whose widget cell comes after long computations it does not use
    (that every cell runs is nbval's proof); ``needs`` is the notebook's own line that
    makes what the cell uses (for example its ``load_model`` call). Returns the state of
    the cells run.
    """
    notebook_state(page, name)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"() => ({NOTEBOOK_STATE})().done === 0", timeout=30_000)
    run = [page.evaluate(RUN_CELL, "helpers.setup()")]
    assert run[0] >= 0, f"no code cell of {name} calls helpers.setup()"
    _wait_idle(page, name, run, timeout)
    if needs is not None:
        assert page.evaluate(RUN_IN_KERNEL, needs) == "ok", f"{needs!r} failed in the kernel of {name}"
    for text in (*cells, cell):
        index = page.evaluate(RUN_CELL, text)
        assert index > run[-1], f"no code cell of {name} after cell {run[-1]} contains {text!r}"
        run.append(index)
        state = _wait_idle(page, name, run, timeout)
        if state["errors"]:
            return state
    return state


def _wait_idle(page, name: str, cells: list[int], timeout: float) -> dict:
    """Wait until ``cells`` have run (or one failed) and the kernel is idle; returns their state."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        state = notebook_state(page, name, cells)
        if state["errors"] or (state["status"] == "idle" and state["done"] == state["total"]):
            return state
    raise TimeoutError(f"the cells {cells} of {name} did not finish running: {state}")


def widget_root(page, name: str, marker: str, index: int = -1):
    """The rendered widget area of notebook ``name`` whose text contains ``marker`` (by default the last one)."""
    panel = page.locator(f"[id='{notebook_state(page, name)['id']}']")
    areas = page.locator(".widget-vbox, .widget-box")  # an inner locator: matched inside each output
    found = panel.locator(".jp-OutputArea-output").filter(has=areas).filter(has_text=marker)
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
