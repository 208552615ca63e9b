"""Grading in a process the submission's kernel never touched (autograde's second verdict).

nbgrader scores a test cell by what the student's kernel sends back, and the
hidden test (:mod:`grader.boot`) runs in that kernel, after the student's code.
Code that owns the kernel can answer for the grader: an IPython input
transformer that rewrites the hidden cell, a kernel whose replies always say
"ok", a thread started where no audit event sees it. So, after nbgrader has run
the notebook, :class:`IsolatedGrading` (an nbgrader preprocessor, between
``Execute`` and ``SaveAutoGrades`` in ``course/nbgrader_config.py``) grades every
exercise again in a new Python process (:mod:`grader.child`):

* the process loads the grader and the references from their files *before*
  any student code exists, keeps them out of ``sys.modules``, and from then on
  refuses to open ``grader/`` or another process's memory, to load ``ctypes``,
  start processes or open sockets (an audit hook that cannot be removed);
* it runs the notebook's imports, function and class definitions, and the
  solution cells whole (not the rest: the figures and models are not needed to
  call the answers), then grades each answer with :func:`grader.grading.grade`
  on fresh random inputs drawn before the student's code ran;
* any thread or process started during grading is seen by the kernel's PID
  counter of the process's own PID namespace (``/proc/sys/kernel/ns_last_pid``);
* it signs every verdict with a key it read before the student's code ran
  (HMAC-SHA256): a line the student's code prints is not a verdict;
* it runs confined like the grader kernel (``course/grader_kernel.py``):
  read-only file systems, private ``/tmp``, its own PID namespace, no
  capabilities.

A test cell keeps its points only when both the kernel's run and this one pass;
a failure here is added to the cell's outputs as an error, with the reason.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import hmac
import importlib.util
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARK = "_ch9_hidden_test"
PASSED = "✓ 独立进程复核通过"


def hidden_tests(nb: Any) -> list[tuple[int, str, str]]:
    """``(cell index, check, function name)`` of every hidden test of this project in ``nb``."""
    found = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution") or MARK not in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == MARK \
                    and len(node.args) == 3 and all(isinstance(a, ast.Constant) for a in node.args):
                found.append((i, node.args[1].value, node.args[2].value))
    return found


_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def program(nb: Any) -> list[tuple[int, str, bool]]:
    """What the grading process runs, in order: ``(cell index, source, is a solution cell)``.

    Solution cells whole; of every other code cell (test cells excepted) only its
    imports and its function and class definitions. IPython magics and shell lines
    are dropped.
    """
    out = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade") and not meta.get("solution"):
            continue
        source = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
        if meta.get("solution"):
            out.append((index, source, True))
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        kept = [ast.get_source_segment(source, n, padded=False) for n in tree.body if isinstance(n, _KEPT)]
        decorated = [n for n in tree.body if isinstance(n, _KEPT[2:]) and n.decorator_list]
        if decorated:  # get_source_segment leaves decorators out: unparse those nodes whole
            kept = [ast.unparse(n) if isinstance(n, _KEPT[2:]) and n.decorator_list
                    else ast.get_source_segment(source, n) for n in tree.body if isinstance(n, _KEPT)]
        if kept:
            out.append((index, "\n\n".join(k for k in kept if k), False))
    return out


@functools.cache
def _confinement() -> Any:
    """``course/grader_kernel.py``, loaded once (it is not in a package)."""
    spec = importlib.util.spec_from_file_location("_ch9_grader_kernel", ROOT / "course" / "grader_kernel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sign(key: bytes, text: str) -> str:
    """The verdict's signature (what :mod:`grader.child` writes before each verdict)."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def grade_isolated(nb: Any, folder: str | os.PathLike, timeout: float = 300.0,
                   seeds: dict[str, int] | None = None) -> dict[str, tuple[bool, str]]:
    """Grade every hidden test of ``nb`` in a new, confined process.

    Args:
        nb: the notebook after nbgrader ran it (only its cell sources are used).
        folder: the submission's folder (the process's working directory).
        timeout: seconds for the notebook's definitions and for each exercise; an
            exercise past it fails, and a new process grades the ones after it.
        seeds: the inputs' seed per function name (default: new ones).

    Returns:
        ``{function name: (passed, message)}`` for every hidden test.
    """
    todo = hidden_tests(nb)
    code = program(nb)
    verdicts: dict[str, tuple[bool, str]] = {}
    hung: list[int] = []  # cells that ran past the timeout: left out of the next process
    while todo:
        key = secrets.token_bytes(32)
        request = {"key": key.hex(), "root": str(ROOT),
                   "cells": [c for c in code if c[0] not in hung],
                   "exercises": [(c, n, (seeds or {}).get(n, secrets.randbits(63)), i) for i, c, n in todo]}
        got, cell = _run_child(request, key, Path(folder), timeout, [n for _, _, n in todo])
        if cell is not None:
            hung.append(cell)
        verdicts.update(got)
        todo = [t for t in todo if t[2] not in verdicts]
    return verdicts


def _run_child(request: dict, key: bytes, folder: Path, timeout: float,
               names: list[str]) -> tuple[dict[str, tuple[bool, str]], int | None]:
    """The verdicts of one grading process, and the cell it hung in (None when it did not).

    The process says which cell it runs and which exercise it grades (signed lines): past
    the timeout, a cell is left out of the next process (as nbgrader interrupts a cell and
    goes on), an exercise earns 0.
    """
    confine = _confinement()
    # -I: neither the submission's folder nor PYTHONPATH on sys.path (a grader/ or numpy.py
    # handed in with the notebook is not imported); the project goes first, by hand
    start = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from grader.child import main; main()"
    command = confine.confined([sys.executable, "-I", "-c", start], folder)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               CH9_MODEL_SOURCE="bundled", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    verdicts: dict[str, tuple[bool, str]] = {}
    doing = ""  # the process's last "cell:<index>" or "grade:<name>"
    try:
        proc.stdin.write(repr(request).encode("utf-8"))
        proc.stdin.close()
        buffer, deadline = b"", time.monotonic() + timeout * 2  # start-up and the first cells
        while True:
            left = deadline - time.monotonic()
            readable = select.select([proc.stdout], [], [], max(left, 0))[0]
            chunk = os.read(proc.stdout.fileno(), 1 << 16) if readable else b""
            if not chunk:  # timed out, or the process ended (after its last verdict: done)
                late = next((n for n in names if n not in verdicts), None)
                if late is None:
                    break
                why = "超时" if not readable else "评分进程提前结束了"
                if doing.startswith("cell:") and not readable:  # a cell hung: run the rest without it
                    return verdicts, int(doing[5:])
                verdicts[late] = (False, f"独立进程评分时{why}（已评 {len(verdicts)} 题）：{late} 本题 0 分。")
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                verdict = _verdict(line, key)
                if verdict and verdict[0] == "":  # progress
                    doing, deadline = verdict[2], time.monotonic() + timeout
                elif verdict and verdict[0] in names:
                    name, result = verdict[0], verdict[1:]
                    if verdicts.setdefault(name, result) != result:  # the key leaked: no verdict holds
                        verdicts[name] = (False, f"独立进程对 {name} 给出了两个不同的结果。本题 0 分。")
                    deadline = time.monotonic() + timeout
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return verdicts, None


def _verdict(line: bytes, key: bytes) -> tuple[str, bool, str] | None:
    """A signed verdict line ``<hmac> <repr((name, passed, message))>``, or None."""
    signature, _, text = line.decode("utf-8", "replace").partition(" ")
    if not hmac.compare_digest(signature, sign(key, text)):
        return None
    try:
        name, passed, message = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return None
    return (name, passed, message) if isinstance(passed, bool) and isinstance(message, str) else None


try:  # the preprocessor needs nbgrader (the course's environment has it; the unit tests may not)
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # pragma: no cover
    NbGraderPreprocessor = None

if NbGraderPreprocessor is not None:
    from nbformat.v4 import new_output
    from traitlets import Float

    class IsolatedGrading(NbGraderPreprocessor):
        """nbgrader preprocessor: every hidden test graded again by :func:`grade_isolated`."""

        timeout = Float(300.0, help="seconds per exercise in the grading process").tag(config=True)

        def preprocess(self, nb, resources):
            tests = hidden_tests(nb)
            if not tests:
                return nb, resources
            folder = resources.get("metadata", {}).get("path") or os.getcwd()
            self.log.info("Grading %d exercises in a separate process", len(tests))
            verdicts = grade_isolated(nb, folder, self.timeout)
            for index, _, name in tests:
                passed, message = verdicts.get(name, (False, f"独立进程没有给出 {name} 的结果。本题 0 分。"))
                outputs = nb.cells[index].outputs
                if passed:
                    outputs.append(new_output("stream", name="stdout", text=f"{PASSED}：{name}\n"))
                else:  # first: nbgrader scores a cell by its first error or result
                    outputs.insert(0, new_output("error", ename="GradingError", evalue=message,
                                                 traceback=[message]))
            return nb, resources
