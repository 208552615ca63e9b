"""What the exercise-check tests share: a not-done stub, running a check, asserting it rejects."""

from __future__ import annotations


def stub(*args):
    raise NotImplementedError


def run(check, fn, capsys, *extra) -> tuple[bool, str]:
    """The check's verdict on ``fn`` and what it printed."""
    ok = check(fn, *extra)
    return ok, capsys.readouterr().out


def assert_rejects(check, wrong, capsys, *extra):
    """``None`` and a stub answer ○ (not done), every answer in ``wrong`` gets ✗."""
    ok, out = run(check, None, capsys, *extra)
    assert not ok and "○" in out
    ok, out = run(check, stub, capsys, *extra)
    assert not ok and "○" in out and "Traceback" not in out
    for fn in wrong:
        ok, out = run(check, fn, capsys, *extra)
        assert not ok and "✗" in out, fn
