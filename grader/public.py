"""Write ``helpers/exercises/public_cases.json``: the references' answers on the public inputs.

The self-study checks that students run hold no reference; they compare with
these stored answers, for the few inputs each exercise draws from its fixed
seed (nbgrader's public tests). Run after changing an exercise or a reference:

    python -m grader.public            # rewrite the file
    python -m grader.public --check    # exit 1 if the file is out of date (beyond round-off)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

from helpers.exercises import core

from .references import REFERENCES


def public_cases() -> dict[str, dict[str, Any]]:
    """``{check: {"seed": s, "expected": [...]}}`` for every registered exercise.

    Raises:
        LookupError: an exercise without a reference in :data:`grader.references.REFERENCES`.
    """
    cases = {}
    for check, ex in sorted(core.EXERCISES.items()):
        if check not in REFERENCES:
            raise LookupError(f"{check} has no reference in grader/references.py")
        ref = REFERENCES[check]
        expected = [core.encode(ref(*copy.deepcopy(args))) for args in ex.draw(ex.public_seed)]
        cases[check] = {"seed": ex.public_seed, "expected": expected}
    return cases


def render(cases: dict[str, dict[str, Any]]) -> str:
    """The file's text: one exercise per block, numbers at float32 precision."""
    def rounded(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.8g}")
        if isinstance(v, list):
            return [rounded(x) for x in v]
        if isinstance(v, dict):
            return {k: rounded(x) for k, x in v.items()}
        return v

    return json.dumps(rounded(cases), ensure_ascii=False, separators=(",", ":"), indent=None)\
        .replace('},"', '},\n"') + "\n"


ROUNDOFF_RTOL, ROUNDOFF_ATOL = 1e-5, 1e-7
"""How far a stored number may be from a fresh one and still be the same answer: float32 round-off,
which differs from one CPU to the next (AVX2 and AVX-512 kernels add in another order), 10x below
the checks' own tolerance (``Exercise.atol``/``rtol``, 1e-4)."""


def agree(stored: Any, fresh: Any) -> bool:
    """The same cases: the same keys, seeds, lengths, types and exact values, except floats
    within round-off (:data:`ROUNDOFF_RTOL`, :data:`ROUNDOFF_ATOL`)."""
    if isinstance(fresh, dict):
        return isinstance(stored, dict) and stored.keys() == fresh.keys() and \
            all(agree(stored[k], fresh[k]) for k in fresh)
    if isinstance(fresh, list):
        return isinstance(stored, list) and len(stored) == len(fresh) and \
            all(agree(s, f) for s, f in zip(stored, fresh))
    if isinstance(fresh, float) and isinstance(stored, float):
        return abs(stored - fresh) <= ROUNDOFF_ATOL + ROUNDOFF_RTOL * abs(fresh)
    return type(stored) is type(fresh) and stored == fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the stored file")
    args = parser.parse_args(argv)
    text = render(public_cases())
    if args.check:
        stored = core.PUBLIC_CASES.read_text(encoding="utf-8") if core.PUBLIC_CASES.is_file() else ""
        try:
            same = agree(json.loads(stored), json.loads(text))
        except json.JSONDecodeError:
            same = False
        if not same:
            print(f"{core.PUBLIC_CASES} is out of date: run python -m grader.public", file=sys.stderr)
            return 1
        return 0
    core.PUBLIC_CASES.write_text(text, encoding="utf-8")
    print(f"wrote {core.PUBLIC_CASES} ({len(text)} bytes, {len(core.EXERCISES)} exercises)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
