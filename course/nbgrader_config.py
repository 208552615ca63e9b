"""nbgrader configuration of the ch9-interpret course (this folder is the course directory).

`make assignments` regenerates source/ from the teacher notebooks and release/
with `nbgrader generate_assignment`. Collected work goes into submitted/, the
grades into gradebook.db; both stay here across `make clean` (git ignores them).
See docs/teaching.md (用 nbgrader 布置和批改作业).
"""

import os
import sys

from jupyter_client.kernelspec import KernelSpecManager
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, IgnorePattern,
                                    LimitOutput, SaveAutoGrades)

c = get_config()  # noqa: F821 (provided by traitlets)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# The hidden tests import the grader-only package grader/ (references, grading by what runs),
# which is not installed: kernels started by nbgrader find it in the project root above course/.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (os.path.dirname(c.CourseDirectory.root), os.environ.get("PYTHONPATH")) if p)
c.CourseDirectory.course_id = "ch9-interpret"

# Every exercise is graded twice: by its hidden test in the submission's kernel, and again in a
# new, confined process that no code of the submission ran in before the grader was loaded
# (grader/isolated.py). A test cell keeps its points only when both pass; a kernel that lies
# about its results (a rewritten reply, an input transformer) cannot answer for the second.
sys.path.insert(0, os.path.dirname(c.CourseDirectory.root))
from grader.isolated import IsolatedGrading  # noqa: E402

c.Autograde.autograde_preprocessors = [Execute, IsolatedGrading, IgnorePattern, ClearMetadataPreprocessor,
                                       LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.IsolatedGrading.timeout = float(os.environ.get("CH9_GRADER_TIMEOUT", "300"))

# The release version gets the same stub as the student edition (scripts/make_student.py),
# so the instant check answers "not done yet" instead of failing.
c.ClearSolutions.code_stub = {
    "python": '# TODO: 在这里写出你的代码\nraise NotImplementedError("练习：请在这里写出你的代码")',
}

# Autograde: a per-cell timeout, so a cell that loops forever is interrupted and
# the rest of the notebook is still graded. The slowest teacher cell takes ~30 s on an
# idle 2-core CPU and several times that on a loaded one. After the interrupt, the kernel
# gets iopub_timeout seconds to stop (a long torch operation finishes first); past that
# nbgrader gives up on the whole notebook.
c.Execute.timeout = int(os.environ.get("CH9_GRADER_TIMEOUT", "300"))
c.Execute.iopub_timeout = 60

# A deleted test cell is put back and scores 0, with the reason in the graded notebook
# (nbgrader turns the first line of this text into a comment; the second line raises).
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = (
    "评分单元格 {cell_id} 在提交的笔记本里被删除了，nbgrader 把它放了回来。\n"
    'raise AssertionError("评分单元格 {cell_id} 被删除：本题 0 分。请不要删除评分单元格。")\n'
)

# The grader kernel (course/grader_kernel.py, installed by `make assignments`) runs each
# submission as an unprivileged user when autograde runs as root, so a cell cannot write
# another student's files. Without it, the notebook's own kernel is used.
if "ch9-grader" in KernelSpecManager().find_kernel_specs():
    c.Execute.kernel_name = "ch9-grader"
