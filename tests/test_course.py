"""Assignment mode end to end: a course of three notebooks, made, released, submitted four ways, autograded.

nbgrader is an optional extra, installed in its own environment (`make course-install`: `.venv-course`),
so the learners' JupyterLab never loads it. This test drives that environment's nbgrader, offline, on a
temporary course directory: generate_assignment, validate, autograde, generate_feedback. Without the
environment it skips, except where RESLIB_REQUIRE_COURSE is set (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.helpers import ROOT

COURSE_PYTHON = Path(os.environ.get("RESLIB_COURSE_PYTHON", ROOT / ".venv-course" / "bin" / "python"))
NOTEBOOKS = ["02_shattered_gradients", "06_bottleneck_counts", "08_densenet"]
CHECKS = {  # per notebook, the checks it grades, in order
    "02_shattered_gradients": ["check_autocorrelation"],
    "06_bottleneck_counts": [
        "check_fixed_block",
        "check_bottleneck_parameters",
        "check_first_bottleneck_parameters",
    ],
    "08_densenet": ["check_channels_after_transition", "check_growth_rate_factor", "check_my_dense_block"],
}
# seconds: the hanging answer cell meets it (the cheat submission's; its run waits it out); every other cell
# of these notebooks takes at most 5.4 s on a 2-core AVX2 EPYC (08's training cell)
CELL_TIMEOUT = 20
MEMORY_MIB = 1536  # the notebooks peak near 1 GB; the hoarding answer asks for 4 GiB

pytestmark = pytest.mark.slow


def _course_python() -> Path:
    if COURSE_PYTHON.exists() and (COURSE_PYTHON.parent / "nbgrader").exists():
        return COURSE_PYTHON
    message = f"no nbgrader environment at {COURSE_PYTHON.parent}: run `make course-install`"
    if os.environ.get("RESLIB_REQUIRE_COURSE"):
        pytest.fail(message)
    pytest.skip(message)


def _run(python: Path, args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.pathsep.join([str(python.parent), os.environ.get("PATH", "")])}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done


def _solution_cells(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the solution code of each exercise cell, markers removed."""
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            lines = [
                ln
                for ln in cell.source.splitlines()
                if "### BEGIN SOLUTION" not in ln and "### END SOLUTION" not in ln
            ]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def _submit(course: Path, student: str, edits: dict[str, dict[str, str]]) -> None:
    """Copy the release into submitted/<student>/ps, with the given cells' sources replaced."""
    folder = course / "submitted" / student / "ps"
    folder.mkdir(parents=True)
    for stem in NOTEBOOKS:
        nb = nbformat.read(course / "release" / "ps" / f"{stem}.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in edits.get(stem, {}):
                cell.source = edits[stem][grade_id]
        nbformat.write(nb, folder / f"{stem}.ipynb")


GRADES = """
import json, sys
from nbgrader.api import Gradebook
out = {}
with Gradebook("sqlite:///" + sys.argv[1] + "/gradebook.db") as gb:
    for student in sys.argv[2:]:
        sub = gb.find_submission("ps", student)
        out[student] = {
            grade.cell.name: [grade.score, grade.max_score]
            for nb in sub.notebooks for grade in nb.grades if grade.cell.name.startswith("check_")
        }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    python = _course_python()
    root = tmp_path_factory.mktemp("course")
    config = root / "course.toml"
    config.write_text(
        f'course_id = "test-course"\ndirectory = "c"\ncell_timeout = {CELL_TIMEOUT}\n'
        f"memory_limit_mib = {MEMORY_MIB}\n"
        f'[[assignment]]\nname = "ps"\nnotebooks = {json.dumps(NOTEBOOKS)}\n'
        "points = { check_bottleneck_parameters = 3 }\n"
    )
    _run(python, [str(python), "-m", "tools.course", str(config), "--release"], cwd=ROOT)
    course = root / "c"
    solutions = {
        stem: _solution_cells(nbformat.read(course / "source" / "ps" / f"{stem}.ipynb", as_version=4))
        for stem in NOTEBOOKS
    }
    wrong = {s: dict(cells) for s, cells in solutions.items()}
    wrong["06_bottleneck_counts"]["check_bottleneck_parameters-answer"] += (
        "\n\n_right = bottleneck_parameters\n\n\ndef bottleneck_parameters(in_channels, planes):\n"
        "    return _right(in_channels, planes) + 1  # off by one\n"
    )
    cheat = {s: dict(cells) for s, cells in solutions.items()}
    cheat["02_shattered_gradients"]["check_autocorrelation-answer"] = (
        "def autocorrelation(g):\n    return rl.shattering.autocorrelation(g)  # the library's own\n"
    )
    cheat["06_bottleneck_counts"]["check_bottleneck_parameters-answer"] = (
        "def bottleneck_parameters(in_channels, planes):\n    while True:  # hangs\n        pass\n"
    )
    cheat["06_bottleneck_counts"]["check_fixed_block-answer"] = (
        "while True:  # the cell itself hangs\n    pass\n"
    )
    cheat["08_densenet"]["check_growth_rate_factor-answer"] = (
        "import ctypes\n\nctypes.string_at(0)  # reads address 0: the kernel dies\n"
    )
    # Right, but each block first takes 4 GiB: past the kernel's limit, so building one fails.
    dense = solutions["08_densenet"]["check_my_dense_block-answer"]
    assert dense.count("super().__init__()") == 1
    cheat["08_densenet"]["check_my_dense_block-answer"] = dense.replace(
        "super().__init__()", "super().__init__()\n        self.hoard = torch.ones(2**30)"
    )
    submissions = {"solution": solutions, "untouched": {}, "one_wrong": wrong, "cheat": cheat}
    for student, edits in submissions.items():
        _submit(course, student, edits)
    nbgrader = str(python.parent / "nbgrader")
    autograde = _run(python, [nbgrader, "autograde", "ps", "--force"], cwd=course, timeout=1500)
    _run(python, [nbgrader, "generate_feedback", "ps", "--force"], cwd=course)
    grades = json.loads(
        _run(python, [str(python), "-c", GRADES, str(course), *submissions], cwd=course).stdout
    )
    validate = _run(
        python,
        [nbgrader, "validate", str(course / "source" / "ps" / "06_bottleneck_counts.ipynb")],
        cwd=course,
    )
    return {
        "dir": course,
        "grades": grades,
        "solutions": solutions,
        "log": autograde.stderr,
        "validate": validate.stdout,
    }


def test_the_instructors_solution_gets_full_marks(course):
    grades = course["grades"]["solution"]
    assert sorted(grades) == sorted(c for checks in CHECKS.values() for c in checks)
    assert all(score == top and top > 0 for score, top in grades.values()), grades
    assert grades["check_bottleneck_parameters"] == [3, 3]  # the config's points
    assert "Success" in course["validate"], course["validate"]


def test_an_untouched_release_scores_zero(course):
    grades = course["grades"]["untouched"]
    assert all(score == 0 for score, _ in grades.values()), grades


def test_one_wrong_answer_loses_only_its_own_points(course):
    grades = course["grades"]["one_wrong"]
    assert grades.pop("check_bottleneck_parameters") == [0, 3]
    assert all(score == top for score, top in grades.values()), grades


def test_hanging_crashing_hoarding_and_reference_calling_answers_score_zero_and_the_batch_finishes(course):
    grades = course["grades"]["cheat"]
    for check in [
        "check_autocorrelation",
        "check_bottleneck_parameters",
        "check_fixed_block",
        "check_growth_rate_factor",
        "check_my_dense_block",
    ]:
        assert grades.pop(check)[0] == 0, check
    assert all(score == top for score, top in grades.values()), grades  # the rest of the notebook still ran
    feedback = course["dir"] / "feedback" / "cheat" / "ps"
    assert {p.stem for p in feedback.glob("*.html")} == set(NOTEBOOKS)
    text = (feedback / "02_shattered_gradients.html").read_text()
    assert "which does this exercise for you" in text  # the learner is told why
    for notebook in (course["dir"] / "autograded").rglob("*.ipynb"):  # no widget state stored
        assert notebook.stat().st_size < 2_000_000, notebook
    dense = (feedback / "08_densenet.html").read_text()
    assert "can't allocate memory" in dense  # the kernel's limit
    assert "the kernel died while running this cell" in dense  # and the notebook went on


def test_the_release_holds_no_solution_model_answer_or_reference(course):
    for stem in NOTEBOOKS:
        text = (course["dir"] / "release" / "ps" / f"{stem}.ipynb").read_text()
        for banned in [
            "BEGIN SOLUTION",
            "HIDDEN TESTS",
            "rl.checks.grade(",
            "expected=",
            "Model answer",
            "_reference",
            "notebooks/solutions",
        ]:
            assert banned not in text, (stem, banned)
        original = (ROOT / "notebooks" / f"{stem}.ipynb").read_text()
        for code in course["solutions"][stem].values():  # no line of a solution the series does not show
            lines = {json.dumps(ln.strip())[1:-1] for ln in code.splitlines() if len(ln.strip()) > 20}
            leaked = [ln for ln in lines if ln in text and ln not in original]
            assert not leaked, (stem, leaked)
        nb = nbformat.read(course["dir"] / "release" / "ps" / f"{stem}.ipynb", as_version=4)
        assert "rl.checks.limit_hints(1)" in "".join(c.source for c in nb.cells if c.cell_type == "code")
