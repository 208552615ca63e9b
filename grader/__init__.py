"""Grading only: the reference answers and the hidden tests. Never shipped to students.

Not part of the ``helpers`` package (``pyproject.toml`` installs only
``helpers``): a student's kernel cannot import it. The nbgrader grader kernel
(``course/grader_kernel.py``) puts it on the path; the hidden test of every
autograded exercise calls :func:`grader.grading.grade`.
"""

from .grading import GradingError, grade

__all__ = ["GradingError", "grade"]
