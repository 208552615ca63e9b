"""make slides: reveal.js decks that load nothing from the internet."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("npm") is None and not (ROOT / "slides/node_modules").exists(),
                    reason="slides SKIPPED: npm is not installed")
def test_slides_are_self_contained(tmp_path):
    out = tmp_path / "slides"
    subprocess.run(["bash", str(ROOT / "scripts/make_slides.sh"), str(out)], check=True,
                   cwd=ROOT, capture_output=True)
    decks = sorted(out.glob("*.slides.html"))
    assert len(decks) == len(list((ROOT / "notebooks").glob("*.ipynb")))
    for deck in decks:
        html = deck.read_text(encoding="utf-8")
        loads = re.findall(r'(?:src|href)="([^"#][^"]*)"|import [\w{} ,]+ from [\'"]([^\'"]+)', html)
        urls = [u.split("?")[0] for pair in loads for u in pair if u and not u.startswith("data:")]
        remote = [u for u in urls if re.match(r"(https?:)?//", u)]
        assert not remote, f"{deck.name} loads from the internet: {remote}"
        for url in urls:
            assert (out / url).is_file(), f"{deck.name} refers to missing {url}"
            if url.endswith(".css"):  # a theme may @import web fonts
                css = (out / url).read_text(encoding="utf-8")
                assert not re.search(r"@import\s+url\(\s*['\"]?(https?:)?//", css), url
        assert "slides" in html and "Reveal.initialize" in html
