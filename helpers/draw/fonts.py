"""A CJK font for matplotlib and PIL, so that every Chinese label renders.

An installed CJK font is used first; otherwise Noto Sans SC from the pip wheel
``pylopdf-fonts-zh-cn`` (SIL OFL). Imports nothing of ours.

Introduced in notebooks/00_start_here (``helpers.setup`` calls :func:`setup_cjk_font`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from PIL import ImageFont

CJK_FONTS = (
    "SimHei", "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Noto Sans SC",
    "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
)


def bundled_cjk_font_path() -> Path | None:
    """Noto Sans SC from the pip wheel ``pylopdf-fonts-zh-cn`` (SIL OFL), if installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
    return path if path.is_file() else None


def setup_cjk_font() -> str:
    """Make matplotlib render Chinese: an installed CJK font first, else the pip-shipped one.

    Returns:
        The family name now first in ``font.sans-serif``.

    Raises:
        RuntimeError: no CJK font is installed and the font wheel is missing.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((name for name in CJK_FONTS if name in installed), None)
    if family is None:
        path = bundled_cjk_font_path()
        if path is None:
            raise RuntimeError("no Chinese font found; run `make install` (pylopdf-fonts-zh-cn)")
        font_manager.fontManager.addfont(str(path))
        family = font_manager.FontProperties(fname=str(path)).get_name()
    rc = matplotlib.rcParams
    rc["font.family"] = "sans-serif"
    rc["font.sans-serif"] = [family] + [f for f in rc["font.sans-serif"] if f != family]
    rc["axes.unicode_minus"] = False  # the CJK font may lack U+2212
    return family


@lru_cache(maxsize=8)
def pil_font(size: int = 14) -> ImageFont.FreeTypeFont:
    """The CJK font matplotlib uses (installed or pip-shipped), for PIL drawing."""
    path = font_manager.findfont(font_manager.FontProperties(family=setup_cjk_font()))
    return ImageFont.truetype(path, size)
