"""Checks for the conceptual exercises (predict, then run; derive; explain a difference).

A conceptual exercise has no reference function to compare with. The student
writes two small functions in the solution cell:

* ``prediction()`` returns a number or a yes/no answer made *before* running
  the experiment; the check compares it with the value the notebook has just
  measured (passed in as ``measured``), never with a stored answer;
* ``explanation()`` returns two or three sentences in Chinese; the check only
  looks for the key points (each a tuple of accepted phrasings) and says which
  are missing. It is a quick self-check, not a grade: the teacher reads the text.

The teacher edition holds model answers in the bodies of these functions; the
student edition (``scripts/make_student.py``) replaces the bodies with a stub
that raises ``NotImplementedError``, which the checks report as "not done yet".

Introduced in notebooks/09_2_1_cam.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

NOT_DONE = "○ {title}：还没有完成（函数里还是 NotImplementedError）。写好后重新运行本单元格。"


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


def check_prediction(title: str, student: Callable[[], object] | None, measured: object,
                     tol: float = 0.05, hint: str = "") -> bool:
    """Compare the student's prediction with a value measured in the notebook.

    Args:
        title: the exercise's name, shown in the feedback.
        student: ``prediction()`` written by the student (no arguments).
        measured: what the notebook measured just now (bool, number or string).
        tol: relative tolerance for numbers (absolute below 1).
        hint: shown when the prediction is wrong.

    Returns:
        True when the prediction matches the measurement.
    """
    if callable(measured):
        raise TypeError("measured must be a value measured in the notebook, not a function")
    done, got = _call(title, student)
    if not done:
        return False
    if callable(got):
        print(f"✗ {title}：prediction() 应返回你的预测值（数或 True/False），而不是一个函数。")
        return False
    if _same(got, measured, tol):
        print(f"✓ {title}：预测与测量一致（{measured!r}）。")
        return True
    print(f"✗ {title}：你的预测是 {got!r}，测量结果是 {measured!r}。\n  提示：{hint}")
    return False


def check_explanation(title: str, student: Callable[[], str] | None,
                      key_points: Mapping[str, Sequence[str]], min_chars: int = 20) -> bool:
    """Look for the key points in the student's explanation (a self-check, not a grade).

    Args:
        title: the exercise's name.
        student: ``explanation()`` written by the student, returning a string.
        key_points: point name -> accepted phrasings (case-insensitive substrings).
        min_chars: shorter answers are sent back.

    Returns:
        True when every key point is mentioned.
    """
    if not key_points:
        raise ValueError("key_points must name at least one point")
    done, text = _call(title, student)
    if not done:
        return False
    if not isinstance(text, str) or len(text.strip()) < min_chars:
        print(f"✗ {title}：explanation() 应返回两三句话的字符串（至少 {min_chars} 个字）。")
        return False
    low = text.lower()
    missing = [name for name, words in key_points.items()
               if not any(w.lower() in low for w in words)]
    if missing:
        print(f"✗ {title}：还没有说到：{'；'.join(missing)}。")
        return False
    print(f"✓ {title}：要点都提到了（{len(key_points)} 个）。最后由老师阅读评分。")
    return True
