"""Turn the series into an nbgrader course: graded releases of the exercises, autograded outside the learner.

    python -m tools.course course.toml            (make assignments)

reads a small config (`course.toml` at the root is the example) and writes an nbgrader course
directory: `source/<assignment>/<notebook>.ipynb`, an `nbgrader_config.py`, and the kernel that
grades (`tools/grading_kernel.py`: memory limited). Then `make assignments` runs nbgrader's own
`generate_assignment`, and a lecturer goes on with nbgrader's commands (the README's "Teaching a
course with the series").

Each notebook of an assignment is the series' notebook with:
- every exercise stub a solution cell: the reference solution from `notebooks/solutions/` between
  nbgrader's solution markers. The release shows the series' own stub again (`StubSolutions`), so
  Run All never stops at an unsolved exercise;
- every check cell an autograded test cell with points: the learner's check on its public cases,
  then, hidden, `rl.checks.grade` on other cases against values recorded here from the reference
  solution (`reslib.checks.grading`), so grading runs no reference code;
- every model answer taken out of the learner's copy: it becomes the grader's text of a written,
  hand-graded answer cell; sentences that point to the solutions folder are dropped;
- hints limited to their first tier (`rl.checks.limit_hints(1)` in the setup cell).
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
KERNEL = "reslib-grading"

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CHECK_CALL = re.compile(r"^rl\.checks\.(check_\w+)\((.*)\)\s*$", re.DOTALL)
MODEL_ANSWER = re.compile(
    r"<details>\s*<summary>\s*(?:Model answer|Answer)[^<]*</summary>(.*?)</details>", re.DOTALL
)
# "Reference solutions are in `notebooks/solutions/08_densenet.py`; open it only after trying."
SOLUTIONS_SENTENCE = re.compile(
    r"\s*(?:Reference solutions are|The reference solution is) in\s+`[^`]+`[^.]*\."
)
SETUP_MARK = "import reslib as rl"
ASSIGNMENT_NOTE = (
    "**This notebook is an assignment.** Write your code in the exercise cells, where it says "
    "`# your code here` or `...`, and your written answers in the cells that say *YOUR ANSWER HERE*. "
    "Each check cell gives instant feedback on its public cases, with a nudge where you are wrong. "
    "Your grade comes from hidden cases, run after you submit, in a fresh kernel with a time limit "
    "per cell; an answer that calls the library function the exercise asks you to write scores "
    "nothing. Written answers are graded by hand."
)
# Names the solution code may use without importing them: what every notebook's setup cell imports.
PREAMBLE = (
    "import copy\nimport math\n\nimport numpy as np\nimport torch\nfrom torch import nn\n"
    "from torch.nn import functional as F\n\nimport reslib as rl\n"
)


# ---------------------------------------------------------------------------------------------
# The config
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    name: str
    notebooks: tuple[str, ...]
    points: dict[str, float] = field(default_factory=dict)  # check name -> points


@dataclass(frozen=True)
class Course:
    course_id: str
    directory: Path
    assignments: tuple[Assignment, ...]
    check_points: float = 1.0
    written_points: float = 1.0
    cell_timeout: int = 120
    memory_limit_mib: int = 2048


def _fail(path: Path, message: str) -> SystemExit:
    return SystemExit(f"{path}: {message}")


def _number(path: Path, key: str, value: object, minimum: float, kind: type = float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not isinstance(value, int))
    ):
        raise _fail(path, f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if value < minimum:
        raise _fail(path, f"{key} must be at least {minimum}, got {value!r}")
    return value


def read_config(path: Path) -> Course:
    """The course a TOML file describes; a mistake is a `SystemExit` naming the key and the fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _fail(path, f"cannot read it as TOML ({exc})") from None
    known = {
        "course_id",
        "directory",
        "check_points",
        "written_points",
        "cell_timeout",
        "memory_limit_mib",
        "assignment",
    }
    if unknown := sorted(set(data) - known):
        raise _fail(path, f"unknown keys {unknown}; the keys are {sorted(known)}")
    course_id = data.get("course_id")
    if not isinstance(course_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", course_id):
        raise _fail(path, f"course_id must be letters, digits, '-' or '_', got {course_id!r}")
    directory = data.get("directory", "course")
    if not isinstance(directory, str) or not directory:
        raise _fail(path, f"directory must be a path, got {directory!r}")
    available = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assignments, seen = [], set()
    entries = data.get("assignment")
    if not isinstance(entries, list) or not entries:
        raise _fail(path, "needs at least one [[assignment]] table, with a name and its notebooks")
    for entry in entries:
        name = entry.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or name in seen:
            raise _fail(
                path, f"each assignment needs a new name of letters, digits, '-' or '_', got {name!r}"
            )
        seen.add(name)
        notebooks = entry.get("notebooks")
        if not isinstance(notebooks, list) or not notebooks:
            raise _fail(
                path, f"assignment {name!r}: notebooks must be a list such as ['01_sequential_networks']"
            )
        for stem in notebooks:
            if stem not in available:
                raise _fail(path, f"assignment {name!r}: no notebook {stem!r}; the notebooks are {available}")
        points = entry.get("points", {})
        if not isinstance(points, dict):
            raise _fail(path, f"assignment {name!r}: points must be a table of check name = points")
        for check, value in points.items():
            _number(path, f"assignment {name!r} points.{check}", value, 0)
        if unknown := sorted(set(entry) - {"name", "notebooks", "points"}):
            raise _fail(path, f"assignment {name!r}: unknown keys {unknown}; use name, notebooks, points")
        assignments.append(Assignment(name, tuple(notebooks), dict(points)))
    return Course(
        course_id,
        (path.parent / directory).resolve(),
        tuple(assignments),
        check_points=_number(path, "check_points", data.get("check_points", 1), 0),
        written_points=_number(path, "written_points", data.get("written_points", 1), 0),
        cell_timeout=int(_number(path, "cell_timeout", data.get("cell_timeout", 120), 10, int)),
        memory_limit_mib=int(_number(path, "memory_limit_mib", data.get("memory_limit_mib", 2048), 512, int)),
    )


# ---------------------------------------------------------------------------------------------
# Solutions: the code of one exercise, from notebooks/solutions/<notebook>.py
# ---------------------------------------------------------------------------------------------


def _defined(source: str) -> list[tuple[str, str]]:
    """What a stub cell defines, in order: ("def", name) for functions and classes, ("value", name)."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(("def", node.name))
        elif isinstance(node, ast.Assign):
            names += [("value", t.id) for t in node.targets if isinstance(t, ast.Name)]
    return names


def solution_code(stem: str, stub: str, check: str) -> str:
    """The solution of the exercise whose stub is `stub`, as code for the notebook's cell.

    Functions and classes come from the solutions file by the stub's names; a predicted value by
    the stub's name or the check's (`check_lesion_paths` -> `lesion_paths`), unpacked when the
    check takes a list of the stub's names. The file's imports come first.
    """
    path = SOLUTIONS / f"{stem}.py"
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    imports = [
        ast.get_source_segment(text, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    values = {
        t.id: n.value
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    parts, assigned = [], []
    for kind, name in _defined(stub):
        if kind == "def":
            if name not in defs:
                raise SystemExit(f"{path}: no def or class {name!r} for the stub of {check}")
            node = defs[name]
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            parts.append("\n".join(text.splitlines()[start - 1 : node.end_lineno]))
        else:
            assigned.append(name)
    if assigned:
        key = check.removeprefix("check_")
        if len(assigned) == 1 and assigned[0] in values:
            parts.append(f"{assigned[0]} = {ast.get_source_segment(text, values[assigned[0]])}")
        elif key in values:
            targets = ", ".join(assigned)
            parts.append(f"{targets} = {ast.get_source_segment(text, values[key])}")
        else:
            raise SystemExit(f"{path}: no value {assigned} or {key!r} for the stub of {check}")
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(parts)


def solution_answer(code: str, argument: str) -> object:
    """What the check cell passes to its check, with `code` run after the notebooks' usual imports."""
    namespace: dict = {"__name__": "__course__"}
    exec(compile(PREAMBLE + code, "<solution>", "exec"), namespace)  # the repository's own solutions
    return eval(compile(argument, "<check argument>", "eval"), namespace)


# ---------------------------------------------------------------------------------------------
# One notebook -> one nbgrader source notebook
# ---------------------------------------------------------------------------------------------


def _nbgrader(
    cell: nbformat.NotebookNode, grade_id: str, *, solution: bool, grade: bool, points: float = 0
) -> None:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
    }
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta


def _written_cell(stem: str, number: int, answer: str, points: float) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(answer.strip() or "(no model answer)")
    _nbgrader(cell, f"{stem}-written-{number}", solution=True, grade=True, points=points)
    return cell


def _split_markdown(stem: str, cell: nbformat.NotebookNode, course: Course, counter: list[int]) -> list:
    """A markdown cell cut at its model answers, in order: its text, and a hand-graded cell per answer."""
    text, cells, start = "".join(cell.source), [], 0

    def keep(part: str) -> None:
        part = SOLUTIONS_SENTENCE.sub("", part).replace("(No check.)", "(A written answer, graded by hand.)")
        part = part.strip()
        if part:
            kept = nbformat.v4.new_markdown_cell(part)
            kept.metadata = {k: v for k, v in cell.metadata.items() if k != "nbgrader"}
            cells.append(kept)

    for match in MODEL_ANSWER.finditer(text):
        keep(text[start : match.start()])
        counter[0] += 1
        cells.append(_written_cell(stem, counter[0], match.group(1), course.written_points))
        start = match.end()
    keep(text[start:])
    return cells


def source_notebook(stem: str, assignment: Assignment, course: Course) -> nbformat.NotebookNode:
    """The nbgrader source version of notebook `stem`: solutions in, hidden tests in, model answers out."""
    from reslib.checks.grading import record  # in the course's environment only

    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    cells, counter, checks = [], [0], []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
        else:
            cell.pop("outputs", None)
        text = "".join(cell.source)
        if cell.cell_type == "markdown":
            cells += _split_markdown(stem, cell, course, counter)
            continue
        if SETUP_MARK in text and not any(c.cell_type == "code" and SETUP_MARK in c.source for c in cells):
            cell.source = (
                text.rstrip() + "\nrl.checks.limit_hints(1)  # an assignment: hints stop at the first nudge"
            )
            note = nbformat.v4.new_markdown_cell(ASSIGNMENT_NOTE)
            cells += [note, cell]
            continue
        match = CHECK_CALL.match(text.strip())
        if match is None:
            cells.append(cell)
            continue
        check, argument = match.groups()
        stub_at = _stub_index(cells, argument)
        stub = cells[stub_at]
        code = solution_code(stem, stub.source, check)
        answer = solution_answer(code, argument)
        stub.metadata["reslib"] = {"stub": stub.source}
        stub.source = f"{BEGIN}\n{code}\n{END}"
        _nbgrader(stub, f"{check}-answer", solution=True, grade=False)
        expected = record(check, answer)
        # Printed, not displayed: nbgrader would read a displayed number as partial credit.
        cell.source = (
            f"{text.strip()}\n{BEGIN_HIDDEN}\n"
            f'print(rl.checks.grade("{check}", {argument}, expected="{expected}"))\n{END_HIDDEN}'
        )
        points = assignment.points.get(check, course.check_points)
        _nbgrader(cell, check, solution=False, grade=True, points=points)
        cells.append(cell)
        checks.append(check)
    unknown = sorted(set(assignment.points) - set(checks) - _other_checks(assignment, stem))
    if unknown:
        raise SystemExit(
            f"assignment {assignment.name!r}: points for {unknown}, which none of its notebooks checks"
        )
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def _other_checks(assignment: Assignment, stem: str) -> set[str]:
    """The checks the assignment's other notebooks call (points may name any of them)."""
    names = set()
    for other in assignment.notebooks:
        if other != stem:
            names |= set(re.findall(r"rl\.checks\.(check_\w+)\(", (NOTEBOOKS / f"{other}.ipynb").read_text()))
    return names


def _stub_index(cells: list, argument: str) -> int:
    """The nearest code cell before the check that defines a name the check passes."""
    wanted = {n.id for n in ast.walk(ast.parse(argument, mode="eval")) if isinstance(n, ast.Name)}
    for at in range(len(cells) - 1, -1, -1):
        cell = cells[at]
        if cell.cell_type != "code" or "nbgrader" in cell.metadata:
            continue
        if wanted & {name for _, name in _defined("".join(cell.source))}:
            return at
    raise SystemExit(f"no stub cell defines {sorted(wanted)} before its check")


# ---------------------------------------------------------------------------------------------
# The course directory
# ---------------------------------------------------------------------------------------------

NBGRADER_CONFIG = """\
# Written by `python -m tools.course` from {config}: change that file and run `make assignments`
# again rather than edit this one.
import os
import sys

sys.path.insert(0, {root!r})  # tools.course: StubSolutions, the release's own stubs

from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.preprocessors import ClearSolutions, Execute

from tools.course import StubSolutions, SurvivingExecute

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {directory!r}
# The kernel that grades: ipykernel with a memory limit (tools/grading_kernel.py), found here.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [{jupyter!r}, *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
)
c.Execute.kernel_name = {kernel!r}
c.Execute.timeout = {timeout}  # seconds per cell: a cell that runs longer is interrupted and scores 0
c.Execute.interrupt_on_timeout = True
c.Execute.store_widget_state = False  # the explorers' state (plotly.js inside) would be 10 MB a notebook
# The release shows each exercise's own stub (`...`, `raise NotImplementedError` inside the function)
c.GenerateAssignment.preprocessors = [
    StubSolutions if p is ClearSolutions else p
    for p in GenerateAssignment.class_traits()["preprocessors"].default()
]
# A cell that kills the kernel scores nothing; the rest of the submission is still graded
c.Autograde.autograde_preprocessors = [
    SurvivingExecute if p is Execute else p
    for p in Autograde.class_traits()["autograde_preprocessors"].default()
]
"""


@functools.cache
def _nbgrader_classes() -> dict[str, type]:
    """The two nbgrader preprocessors the course's config swaps in (nbgrader is imported only here)."""
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import ClearSolutions, Execute

    class StubSolutions(ClearSolutions):
        """nbgrader's ClearSolutions, then the series' own stub where the cell carries one.

        nbgrader puts `raise NotImplementedError()` in place of the solution; for a predicted value
        that line would stop Run All. The series' stub (`answer = ...`, a function whose body
        raises) is what the learner saw in self-study, and its check says "not implemented yet".
        """

        def preprocess_cell(self, cell, resources, cell_index):
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            stub = cell.metadata.get("reslib", {}).get("stub")
            if stub is not None:
                cell.source = stub
            return cell, resources

    class SurvivingExecute(Execute):
        """nbgrader's Execute, where a cell that kills the kernel scores nothing, not the whole submission.

        nbgrader gives up on a submission whose kernel dies (`os._exit`, a crash in C) and grades
        none of it. Here the cell gets an error output instead, a fresh kernel re-runs the cells
        before it that did not kill it (their outputs kept as they were), and grading goes on.
        """

        def preprocess(self, nb, resources=None, km=None):
            self._dead: set[int] = set()
            return super().preprocess(nb, resources, km)

        def preprocess_cell(self, cell, resources, index):
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self._dead.add(index)
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error",
                        ename="DeadKernelError",
                        evalue="the kernel died while running this cell; it scores nothing, and the "
                        "notebook went on in a fresh kernel",
                        traceback=["DeadKernelError: the kernel died while running this cell"],
                    )
                )
                self._restart(index)
                return cell, self.resources

        def _restart(self, upto: int) -> None:
            self._cleanup_kernel()
            self.km = self.create_kernel_manager()
            self.start_new_kernel()
            self.start_new_kernel_client()
            for index, cell in enumerate(self.nb.cells[:upto]):
                if cell.cell_type == "code" and index not in self._dead:
                    self.execute_cell(copy.deepcopy(cell), index, store_history=False)

    return {"StubSolutions": StubSolutions, "SurvivingExecute": SurvivingExecute}


def __getattr__(name: str):
    if name in ("StubSolutions", "SurvivingExecute"):  # nbgrader is imported only where a course is made
        return _nbgrader_classes()[name]
    raise AttributeError(name)


def write_course(config: Path) -> Course:
    """Write the course directory `config` describes; return the course."""
    course = read_config(config)
    root = course.directory
    (root / "source").mkdir(parents=True, exist_ok=True)
    for assignment in course.assignments:
        folder = root / "source" / assignment.name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for stem in assignment.notebooks:
            nbformat.write(source_notebook(stem, assignment, course), folder / f"{stem}.ipynb")
            print(f"{folder.relative_to(root)}/{stem}.ipynb")
    kernel = root / "jupyter" / "kernels" / KERNEL
    kernel.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            sys.executable,
            str(ROOT / "tools" / "grading_kernel.py"),
            str(course.memory_limit_mib),
            "-f",
            "{connection_file}",
        ],
        "display_name": f"reslib grading ({course.memory_limit_mib} MiB)",
        "language": "python",
        "env": {"RESLIB_PREDICTIONS": str(root / "autograded" / ".predictions.json")},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    (root / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(
            config=Path(config).name,
            root=str(ROOT),
            course_id=course.course_id,
            directory=str(root),
            jupyter=str(root / "jupyter"),
            kernel=KERNEL,
            timeout=course.cell_timeout,
        )
    )
    return course


def nbgrader(args: list[str], course_dir: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run nbgrader from this Python's environment in `course_dir` (it calls `alembic` by name)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}
    return subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course_dir, env=env, check=True, **kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.course", description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path, help="the course's TOML file (course.toml)")
    parser.add_argument(
        "--release", action="store_true", help="then run nbgrader generate_assignment for every assignment"
    )
    args = parser.parse_args(argv)
    course = write_course(args.config)
    if args.release:
        for assignment in course.assignments:
            nbgrader(["generate_assignment", assignment.name, "--force"], course.directory)
    print(f"course written to {course.directory}")


if __name__ == "__main__":
    main()
