"""JupyterLab in Chromium: the notebooks run, and moving a widget changes the picture.

One JupyterLab serves every test; each test opens its notebook alone in a new
workspace (see driver.py). The start-here notebook and the student edition of 9.2.1
run top to bottom, and 9.1 runs whole for its two explorers and channel views; 9.2.2, 9.3 and
the 拓展 lab, whose explorers come after computations they do not use, run their first cell, the
cells (or line) that make what the explorer uses, and the explorer's cell (that every cell of
the teacher's notebooks runs is nbval's proof, of the student editions tests/editions').
Screenshots are saved under build/browser/.
"""

from __future__ import annotations

from driver import (
    choose_option, image_bytes, nudge_slider, open_notebook, run_all, run_widget_cell,
    wait_for_change, widget_root,
)

from channel_views import NB_9_1, check_channel_views
from conftest import BUILD


def test_start_here_runs_in_jupyterlab(lab, page):
    open_notebook(page, lab, "00_start_here.ipynb")
    state = run_all(page, "00_start_here.ipynb")
    assert state["errors"] == [] and state["done"] == state["total"]
    # The matplotlib figure with a Chinese title was rendered as a PNG output.
    assert page.locator(".jp-RenderedImage img").count() >= 1
    page.screenshot(path=str(BUILD / "00_start_here.png"), full_page=True)


def _explore(page, root, name: str, label: str, presses: int, key: str) -> None:
    before = image_bytes(root)
    nudge_slider(root, label, presses, key)
    after = wait_for_change(root, before)
    assert after != before
    root.screenshot(path=str(BUILD / f"{name}.png"))


def test_notebook_9_1_explorers_react_to_their_controls(lab, page):
    """9.1 runs whole once: the feature-map explorer's sliders, then the channel views."""
    open_notebook(page, lab, NB_9_1)
    state = run_all(page, NB_9_1)
    assert state["errors"] == [] and state["done"] == state["total"], state
    root = widget_root(page, NB_9_1, "照片权重")
    root.screenshot(path=str(BUILD / "09_1_explorer_start.png"))
    _explore(page, root, "09_1_explorer_layer", "层", 3, "ArrowLeft")  # starts at the last layer
    _explore(page, root, "09_1_explorer_alpha", "照片权重", 4, "ArrowLeft")
    assert root.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0
    check_channel_views(page)


def test_cam_explorer_9_2_2_reacts_to_class_choice(lab, page):
    open_notebook(page, lab, "09_2_2_grad_cam.ipynb")
    # the explorer uses the model and the measured drawing shift (step 2), not the toy-net cells
    state = run_widget_cell(page, "09_2_2_grad_cam.ipynb", "widgets.cam_explorer(",
                            cells=('bundle = load_model("vgg16_bn")', "SHIFT = erf.drawing_shift("))
    assert state["errors"] == [] and state["done"] == state["total"], state
    root = widget_root(page, "09_2_2_grad_cam.ipynb", "照片权重")
    before = image_bytes(root)
    choose_option(root, "类别", 3)  # cat_and_cup: a cup class among the top 5
    after = wait_for_change(root, before)
    assert after != before
    root.screenshot(path=str(BUILD / "09_2_2_explorer_class.png"))
    _explore(page, root, "09_2_2_explorer_alpha", "照片权重", 4, "ArrowLeft")


def test_head_view_9_3_reacts_to_the_head_slider(lab, page):
    open_notebook(page, lab, "09_3_attention.ipynb")
    # the head view uses MiniLM's attention (made in one cell), not the GRU and deletion cells before it
    state = run_widget_cell(page, "09_3_attention.ipynb", "widgets.head_view(attn, tokens",
                            cells=('bert, tokenizer = text.load_bert("minilm")',))
    assert state["errors"] == [] and state["done"] == state["total"], state
    root = widget_root(page, "09_3_attention.ipynb", "隐藏 [CLS]/[SEP]", index=0)  # MiniLM's head view
    _explore(page, root, "09_3_head_view_head", "头", 2, "ArrowLeft")
    _explore(page, root, "09_3_head_view_layer", "层", 1, "ArrowLeft")


def test_student_edition_checks_respond_in_jupyterlab(lab, page):
    open_notebook(page, lab, "student/09_2_1_cam.ipynb")
    state = run_all(page, "student/09_2_1_cam.ipynb")
    assert state["errors"] == [] and state["done"] == state["total"], state
    waiting = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .map(w => w.model.toJSON()).filter(c => c.cell_type === 'code')
        .flatMap(c => c.outputs || []).map(o => o.text || '').join('')""")
    assert waiting.count("○") >= 3 and "✓" not in waiting
    page.screenshot(path=str(BUILD / "student_09_2_1.png"))


def test_cam_explorer_of_the_trust_lab_reacts_to_the_method_menu(lab, page):
    open_notebook(page, lab, "09_ext_trust.ipynb")
    # The explorer needs only the notebook's model; the maps computed before it are not run here.
    state = run_widget_cell(page, "09_ext_trust.ipynb", "widgets.cam_explorer(",
                            needs='bundle = load_model("efficientnet_lite0", source="bundled")')
    assert state["errors"] == [] and state["done"] == state["total"], state
    root = widget_root(page, "09_ext_trust.ipynb", "照片权重", index=0)
    before = image_bytes(root)
    choose_option(root, "方法", 0)  # CAM (the bundled head has class weights); it opened on Grad-CAM++
    after = wait_for_change(root, before)
    assert after != before
    root.screenshot(path=str(BUILD / "09_ext_explorer_method.png"))
