"""Every decimal number in a markdown cell is either printed by the notebook or marked as quoted.

A number typed into prose goes stale the day the code changes; a number the notebook prints
cannot. A published number may appear in prose when its line says it is quoted (``引用``)
and names its source. Checked on the stored outputs of the .ipynb (what nbval also compares).
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["09_ext_trust.ipynb"]
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\d.]*\d)(?!\s*(?:节|本章))")  # "9.2 节" is a section
QUOTED = "引用"


def outputs_text(nb: dict) -> str:
    """All text the code cells printed or displayed."""
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain") or ""
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def unsupported(nb: dict) -> list[tuple[str, str]]:
    """(number, line) for each decimal of a markdown line that no output shows and no quote covers."""
    printed = outputs_text(nb)
    bad = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if QUOTED in line:
                continue
            for num in DECIMAL.findall(line):
                if not re.search(rf"(?<![\d.]){re.escape(num)}(?!\d)", printed):
                    bad.append((num, line.strip()))
    return bad


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_decimal_in_prose_is_printed_or_quoted(name):
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    assert outputs_text(nb).strip(), f"{name} has no stored outputs: execute it first"
    assert unsupported(nb) == []


def test_the_check_catches_a_typed_number_and_accepts_printed_and_quoted_ones():
    def nb(md: str, out: str) -> dict:
        return {"cells": [{"cell_type": "markdown", "source": [md]},
                          {"cell_type": "code", "source": [], "outputs": [
                              {"output_type": "stream", "name": "stdout", "text": [out]}]}]}
    assert unsupported(nb("AUC 是 0.412。", "auc 0.412\n")) == []
    assert unsupported(nb("AUC 是 0.41。", "auc 0.412\n")) == [("0.41", "AUC 是 0.41。")]
    assert unsupported(nb("运行了 132.5 秒", "done\n")) == [("132.5", "运行了 132.5 秒")]
    assert unsupported(nb("τ 约为 0.29（引用：某论文）", "")) == []
    assert unsupported(nb("9.2 节和教材 9.4 本章小结", "")) == []  # section numbers, not measurements
