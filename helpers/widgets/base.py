"""The base of every explorer: a picture, a caption, a busy guard and a short text repr.

An explorer caches the expensive part (forward and backward passes) per image
and redraws on every control change. A subclass builds its controls, an
``image_widget`` (``ipywidgets.Image``), an ``info`` line (``ipywidgets.HTML``)
and the whole UI as ``widget``, then implements :meth:`Explorer.picture`,
:meth:`Explorer.describe` and :meth:`Explorer.summary`; everything else is here.

A new explorer goes in its own module under ``helpers/widgets/`` as a subclass.

Introduced in notebooks/09_1_layer_outputs.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager

import ipywidgets as W
import numpy as np
from PIL import Image

from .common import to_png


class Explorer:
    """Render loop shared by the explorers.

    Attributes:
        renders: how many pictures were drawn (tests and benchmarks count them).
        image_widget, info, widget: set by the subclass before the first :meth:`render`.
    """

    image_widget: W.Image
    info: W.HTML
    widget: W.Box

    def __init__(self) -> None:
        self.renders = 0
        self._busy = False

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Change controls from code without a redraw per change (one :meth:`render` after)."""
        busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = busy

    def _redraw(self, change: dict) -> None:
        """Observer of a control whose change only needs a new picture."""
        if not self._busy:
            self.render()

    def picture(self) -> Image.Image | np.ndarray:
        """The current picture (PIL image, or ``(H, W, 3)`` uint8)."""
        raise NotImplementedError

    def describe(self) -> str:
        """The caption under the controls, plain text."""
        raise NotImplementedError

    def summary(self) -> str:
        """What the explorer is, for ``text/plain`` (nbval and plain consoles)."""
        raise NotImplementedError

    def encode(self, picture: Image.Image | np.ndarray) -> bytes:
        """PNG bytes of a picture; a subclass may quantize first."""
        if isinstance(picture, np.ndarray):
            picture = Image.fromarray(picture)
        return to_png(picture)

    def render(self) -> bytes:
        """Redraw into ``image_widget`` and update ``info``; returns the PNG bytes."""
        png = self.encode(self.picture())
        self.image_widget.value = png
        self.info.value = html.escape(self.describe())
        self.renders += 1
        return png

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.summary()
        return data
