"""The answers stored for the exercises' public inputs (``public_cases.json``), in a JSON form.

``python -m grader.public`` writes them from the grader's references (teacher side);
the self-study checks of :mod:`.core` read them. Nothing here computes an answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from .core import Exercise

PUBLIC_CASES = Path(__file__).resolve().parent / "public_cases.json"


def encode(value: Any) -> Any:
    """A JSON form of a reference result (tensor, array, number, string, list, None)."""
    if isinstance(value, torch.Tensor):
        return {"tensor": value.detach().cpu().tolist(), "dtype": str(value.dtype).split(".")[-1]}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, dict) and "tensor" in value:
        return torch.tensor(value["tensor"], dtype=getattr(torch, value["dtype"]))
    if isinstance(value, dict) and "array" in value:
        return np.array(value["array"], dtype=value["dtype"])
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def public_answers(ex: Exercise) -> list[Any]:
    """The stored answers of ``ex``'s public inputs.

    Raises:
        LookupError: ``public_cases.json`` has none for this exercise (or an old seed):
            run ``python -m grader.public`` (teacher side).
    """
    cases = json.loads(PUBLIC_CASES.read_text(encoding="utf-8")) if PUBLIC_CASES.is_file() else {}
    case = cases.get(ex.check)
    if case is None or case["seed"] != ex.public_seed or len(case["expected"]) != ex.trials:
        raise LookupError(f"{PUBLIC_CASES.name} has no answers for {ex.check}: "
                          "run `python -m grader.public` in the teacher's copy")
    return [decode(v) for v in case["expected"]]
