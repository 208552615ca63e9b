"""Choosing the class to explain: the most probable classes, or any class typed by name.

Introduced in notebooks/09_2_1_cam.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

import ipywidgets as W
import torch

from .common import WIDE, error_html

TOP_CLASSES = 5  # classes offered in the dropdown, by probability
CLOSE_NAMES = 3  # near matches suggested for an unknown name


class ClassPicker:
    """A dropdown of the top classes with probabilities, and a box to type any class name.

    ``on_change(class_idx)`` runs when the student picks a class (not when
    :meth:`show` sets the options from code). An unknown name only shows a
    message in ``message`` and changes nothing.

    Attributes:
        dropdown: ``Dropdown`` of class indices: the ``TOP_CLASSES`` most probable,
            plus the chosen class when it is not among them ("其他").
        name: ``Combobox`` with every class name (updates on Enter).
        message: ``HTML`` for a friendly error; the explorer writes its own errors here too.
        class_idx: the class chosen now.
    """

    def __init__(self, categories: Sequence[str], on_change: Callable[[int], None]) -> None:
        self.categories, self.on_change = list(categories), on_change
        self.class_idx = 0
        self.probs: torch.Tensor | None = None
        self._setting = False
        self.dropdown = W.Dropdown(description="类别", style=WIDE)
        self.name = W.Combobox(placeholder="输入任意类别名（英文），按回车",
                               options=self.categories, ensure_option=False,
                               continuous_update=False, description="其他类别", style=WIDE)
        self.message = W.HTML()
        self.dropdown.observe(self._on_dropdown, names="value")
        self.name.observe(lambda change: self.select(change["new"]), names="value")

    def label(self, k: int) -> str:
        """``name（probability）`` of class ``k``."""
        return f"{self.categories[k]}（{float(self.probs[k]):.3f}）"

    def show(self, probs: torch.Tensor, class_idx: int) -> None:
        """Offer the top classes of ``probs`` (plus ``class_idx``) and select ``class_idx``.

        Shapes:
            probs: ``(classes,)``.
        """
        self.probs, self.class_idx = probs, class_idx
        top = [int(k) for k in probs.topk(min(TOP_CLASSES, len(probs))).indices]
        options = [(self.label(k), k) for k in top]
        if class_idx not in top:
            options.append((f"其他：{self.label(class_idx)}", class_idx))
        self._setting = True
        try:
            self.dropdown.options = options
            self.dropdown.value = class_idx
        finally:
            self._setting = False

    def _on_dropdown(self, change: dict) -> None:
        if not self._setting and change["new"] is not None:
            self.class_idx = int(change["new"])
            self.on_change(self.class_idx)

    def select(self, name: str) -> bool:
        """Choose the class called ``name`` (any case); ``False`` and a message if there is none."""
        text = (name or "").strip()
        if not text:
            return False
        k = {c.lower(): i for i, c in enumerate(self.categories)}.get(text.lower())
        if k is None:
            close = difflib.get_close_matches(text, self.categories, n=CLOSE_NAMES, cutoff=0.6)
            hint = f"相近的类别：{'、'.join(close)}" if close else "请从下拉列表中选择一个类别名（英文）"
            self.message.value = error_html(f"没有名为 “{text}” 的类别。{hint}（仍显示上一个类别）")
            return False
        self.message.value = ""
        self.show(self.probs, k)
        self.on_change(k)
        return True
