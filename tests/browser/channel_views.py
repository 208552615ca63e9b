"""The "what this channel sees" views of notebook 9.1 react to their controls (in JupyterLab).

Called by test_lab's 9.1 test once the notebook has run whole, so that 9.1 runs once.
Screenshots are saved under build/browser/.
"""

from __future__ import annotations

import time

from driver import image_bytes, nudge_slider, wait_for_change, widget_root

from conftest import BUILD

NB_9_1 = "09_1_layer_outputs.ipynb"


def _panel_picture(panel) -> bytes:
    """A screenshot of the top-patch picture inside the accordion (the panel's first image)."""
    img = panel.locator("img").first
    img.wait_for(state="visible", timeout=60_000)
    return img.screenshot()


def check_channel_views(page) -> None:
    """The toy-net channel explorer and the panel under the feature-map explorer redraw."""
    # The toy-net channel explorer: its caption names the dissection label; a new channel redraws.
    root = widget_root(page, NB_9_1, "网络解剖标签")
    before = image_bytes(root)
    nudge_slider(root, "通道", 1, "ArrowRight")
    after = wait_for_change(root, before)
    assert after != before
    root.screenshot(path=str(BUILD / "09_1_channel_explorer_toy.png"))

    # The panel folded under the 9.1 feature-map explorer: open it, then move the explorer's channel.
    explorer = widget_root(page, NB_9_1, "照片权重")
    explorer.locator(".jupyter-widget-Collapse-header").filter(has_text="这个通道看到了什么").first.click()
    panel = explorer.locator(".jupyter-widget-Collapse-contents").first
    before = _panel_picture(panel)
    nudge_slider(explorer, "通道", 2, "ArrowRight")
    deadline = time.monotonic() + 60
    while _panel_picture(panel) == before and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _panel_picture(panel) != before, "the top patches did not follow the explorer's channel"
    explorer.screenshot(path=str(BUILD / "09_1_channel_panel.png"))
    assert explorer.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0
