"""Checks for the conceptual exercises (predict, then run; find a bug; explain a failure).

A conceptual exercise has no reference function to compare with. The student
writes two small functions in the solution cell:

* ``prediction()`` returns a number, a yes/no answer or a name, made *before*
  the experiment runs. The check records the **first** answer it sees for the
  exercise (in memory and in ``predictions.json`` beside the notebook, which is
  handed in with it), prints it, and only then prints the value the notebook
  has just measured (passed in as ``measured``, never a stored answer). A
  changed answer is shown next to the recorded one: the teacher grades the
  first;
* ``explanation()`` returns two or three sentences in Chinese. The teacher
  grades them by hand (nbgrader's manual grading, see
  ``scripts/make_assignments.py``); the instant check only sends back an answer
  that is too short and reminds the student to cite a measured number.

The teacher edition holds model answers in the bodies of these functions; the
student edition (``scripts/make_student.py``) replaces the bodies with a stub
that raises ``NotImplementedError``, which the checks report as "not done yet".

Introduced in notebooks/09_2_1_cam.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

NOT_DONE = "○ {title}：还没有完成（函数里还是 NotImplementedError）。写好后重新运行本单元格。"
RECORD_ENV = "CH9_PREDICTIONS"  # where first answers are kept; default predictions.json in the cwd
_recorded: dict[str, object] = {}


def _call(title: str, student: Callable[[], object] | None) -> tuple[bool, object]:
    """Run ``student()``; (False, None) with the ○ message when it is not done yet."""
    if student is None:
        print(NOT_DONE.format(title=title))
        return False, None
    try:
        return True, student()
    except NotImplementedError:
        print(NOT_DONE.format(title=title))
        return False, None


def _same(got: object, measured: object, tol: float) -> bool:
    if isinstance(measured, bool):
        return isinstance(got, bool) and got is measured
    if isinstance(measured, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return False
        return abs(float(got) - float(measured)) <= tol * max(1.0, abs(float(measured)))
    return got == measured


def record_file() -> Path:
    """The JSON file of first answers: ``$CH9_PREDICTIONS``, else ``predictions.json`` in the cwd."""
    return Path(os.environ.get(RECORD_ENV) or "predictions.json")


def _first_answer(title: str, got: object) -> object:
    """The first answer recorded for ``title``; records ``got`` when there is none yet."""
    path = record_file()
    try:
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        stored = {}
    if title in stored:
        _recorded.setdefault(title, stored[title])
    if title not in _recorded:
        _recorded[title] = got
        stored[title] = got
        try:
            path.write_text(json.dumps(stored, ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as err:
            print(f"（未能写入 {path}：{err}；本次会话内仍按第一次的预测记录）")
    return _recorded[title]


def forget(title: str | None = None) -> None:
    """Drop the recorded first answer of ``title`` (all when None), in memory and in the file.

    For the teacher preparing a notebook; a student who calls it is visible in the notebook.
    """
    path = record_file()
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for key in list(_recorded) if title is None else [title]:
        _recorded.pop(key, None)
        stored.pop(key, None)
    if title is None:
        stored = {}
    if path.exists():
        path.write_text(json.dumps(stored, ensure_ascii=False, indent=1), encoding="utf-8")


def check_prediction(title: str, student: Callable[[], object] | None, measured: object,
                     tol: float = 0.05, hint: str = "") -> bool:
    """Record the student's first prediction, then compare it with a value measured in the notebook.

    Args:
        title: the exercise's name, shown in the feedback and the key of the record.
        student: ``prediction()`` written by the student (no arguments).
        measured: what the notebook measured just now (bool, number or string).
        tol: relative tolerance for numbers (absolute below 1).
        hint: shown when the prediction is wrong.

    Returns:
        True when the current prediction matches the measurement (so the notebook can go on);
        the feedback says whether the first, recorded one did.

    Raises:
        TypeError: ``measured`` is a function (it must be the value measured in the notebook).
    """
    if callable(measured):
        raise TypeError("measured must be a value measured in the notebook, not a function")
    done, got = _call(title, student)
    if not done:
        return False
    if callable(got) or not isinstance(got, (bool, int, float, str)):
        print(f"✗ {title}：prediction() 应返回你的预测值（数、True/False 或名字），而不是 {type(got).__name__}。")
        return False
    first = _first_answer(title, got)
    changed = first != got or type(first) is not type(got)
    print(f"  {title}：已记录你的第一次预测 {first!r}（老师按它评分）"
          + (f"；现在的答案是 {got!r}" if changed else ""))
    print(f"  测量结果：{measured!r}")
    first_ok, now_ok = _same(first, measured, tol), _same(got, measured, tol)
    if first_ok and not changed:
        print(f"✓ {title}：预测与测量一致。")
    elif first_ok:
        print(f"✗ {title}：第一次的预测与测量一致，现在的答案不一致。")
    elif now_ok:
        print(f"○ {title}：现在的答案与测量一致，但第一次的预测不一致（记录不变）。")
    else:
        print(f"✗ {title}：预测与测量不一致。" + (f"\n  提示：{hint}" if hint else ""))
    return now_ok


def check_explanation(title: str, student: Callable[[], str] | None, min_chars: int = 40,
                      cite_number: bool = True) -> bool:
    """Send back an explanation that is too short; remind to cite a number. The teacher grades it.

    Args:
        title: the exercise's name.
        student: ``explanation()`` written by the student, returning a string.
        min_chars: shorter answers are sent back.
        cite_number: remind the student when the text contains no digit (a measured number).

    Returns:
        True when the answer is long enough (and cites a number, when asked); never a grade.
    """
    done, text = _call(title, student)
    if not done:
        return False
    if not isinstance(text, str) or len(text.strip()) < min_chars:
        print(f"✗ {title}：explanation() 应返回两三句话的字符串（至少 {min_chars} 个字）。")
        return False
    if cite_number and not re.search(r"\d", text):
        print(f"○ {title}：还没有引用数字。用上面量出的一个数支持你的解释，再运行本单元格。")
        return False
    print(f"✓ {title}：已收到（{len(text.strip())} 个字）。由老师阅读评分，这里不判断对错。")
    return True
