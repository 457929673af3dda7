"""tools/course.py without nbgrader: the config, and every notebook's nbgrader source version.

The source versions need only reslib and nbformat, so every notebook is converted here, in the test
environment; tests/test_course.py then runs nbgrader itself on three of them.
"""

import re
import subprocess
import sys
import textwrap

import nbformat
import pytest

from tests.helpers import ROOT
from tools import course, grading_kernel

STEMS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _config(tmp_path, text: str):
    path = tmp_path / "course.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_example_config_reads_and_names_every_notebook_once():
    example = course.read_config(ROOT / "course.toml")
    named = [stem for a in example.assignments for stem in a.notebooks]
    assert sorted(named) == STEMS and len(set(named)) == len(named)


@pytest.mark.parametrize(
    "text, says",
    [
        (
            'course_id = "x y"\n[[assignment]]\nname = "a"\nnotebooks = ["02_shattered_gradients"]',
            "course_id",
        ),
        ('course_id = "c"', "needs at least one [[assignment]]"),
        (
            'course_id = "c"\n[[assignment]]\nname = "a"\nnotebooks = ["99_nothing"]',
            "no notebook '99_nothing'",
        ),
        ('course_id = "c"\n[[assignment]]\nname = "a"\nnotebooks = []', "notebooks must be a list"),
        (
            'course_id = "c"\n[[assignment]]\nname = "a"\nnotebooks = ["02_shattered_gradients"]\n'
            '[[assignment]]\nname = "a"\nnotebooks = ["04_forward_variance"]',
            "new name",
        ),
        (
            'course_id = "c"\nmemory_limit_mib = 100\n[[assignment]]\nname = "a"\n'
            'notebooks = ["02_shattered_gradients"]',
            "memory_limit_mib must be at least 512",
        ),
        (
            'course_id = "c"\ncell_timeout = 1.5\n[[assignment]]\nname = "a"\n'
            'notebooks = ["02_shattered_gradients"]',
            "cell_timeout must be an integer",
        ),
        (
            'course_id = "c"\npoints = 3\n[[assignment]]\nname = "a"\nnotebooks = ["02_shattered_gradients"]',
            "unknown keys",
        ),
        (
            'course_id = "c"\n[[assignment]]\nname = "a"\nnotebooks = ["02_shattered_gradients"]\n'
            "points = { check_autocorrelation = -1 }",
            "at least 0",
        ),
        ("course_id = ", "cannot read it as TOML"),
    ],
)
def test_a_config_mistake_names_the_key_and_the_fix(tmp_path, text, says):
    with pytest.raises(SystemExit, match=re.escape(says)):
        course.read_config(_config(tmp_path, text))


def test_points_for_a_check_no_notebook_of_the_assignment_has_are_refused(tmp_path):
    config = course.read_config(
        _config(
            tmp_path,
            'course_id = "c"\n[[assignment]]\nname = "a"\nnotebooks = ["02_shattered_gradients"]\n'
            "points = { check_chain_gradient = 2 }\n",
        )
    )
    with pytest.raises(SystemExit, match="check_chain_gradient"):
        course.source_notebook("02_shattered_gradients", config.assignments[0], config)


@pytest.fixture(scope="module")
def sources() -> dict[str, nbformat.NotebookNode]:
    example = course.read_config(ROOT / "course.toml")
    return {
        stem: course.source_notebook(stem, assignment, example)
        for assignment in example.assignments
        for stem in assignment.notebooks
    }


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_becomes_a_solution_and_a_hidden_test(sources, stem):
    original = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    checks = re.findall(r"^rl\.checks\.(check_\w+)\(", "\n".join(c.source for c in original.cells), re.M)
    nb = sources[stem]
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    }
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }
    assert sorted(tests) == sorted(checks)
    assert sorted(answers) == sorted(f"{c}-answer" for c in checks)
    for check, cell in tests.items():
        visible, hidden = cell.source.split(course.BEGIN_HIDDEN)
        assert visible.strip().startswith(f"rl.checks.{check}(")
        assert f'rl.checks.grade("{check}", ' in hidden and hidden.strip().endswith(course.END_HIDDEN)
        assert cell.metadata["nbgrader"]["locked"] and cell.metadata["nbgrader"]["points"] > 0
    for cell in answers.values():
        assert cell.source.startswith(course.BEGIN) and cell.source.endswith(course.END)
        assert "NotImplementedError" not in cell.source and "= ..." not in cell.source
        assert (
            "NotImplementedError" in cell.metadata["reslib"]["stub"]
            or "..." in cell.metadata["reslib"]["stub"]
        )


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_model_answers_become_hand_graded_cells(sources, stem):
    original = "\n".join(
        c.source for c in nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4).cells
    )
    nb = sources[stem]
    written = [
        c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")
    ]
    assert len(written) == len(course.MODEL_ANSWER.findall(original))
    assert all(c.metadata["nbgrader"]["grade"] and c.source for c in written)
    visible = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown" and c not in written)
    assert "Model answer" not in visible and "notebooks/solutions" not in visible
    # each answer cell sits where its model answer was: between the same exercises
    marks = r"\*\*Exercise \d+|<details>\s*<summary>\s*(?:Model answer|Answer)"
    before = ["A" if m.startswith("<") else m for m in re.findall(marks, original)]
    after = []
    for cell in nb.cells:
        if cell in written:
            after.append("A")
        elif cell.cell_type == "markdown":
            after += re.findall(r"\*\*Exercise \d+", cell.source)
    assert after == before
    assert "(No check.)" not in visible
    setup = next(c for c in nb.cells if c.cell_type == "code" and course.SETUP_MARK in c.source)
    assert setup.source.rstrip().endswith("# an assignment: hints stop at the first nudge")


def test_the_grading_kernel_caps_memory_and_cannot_raise_it_again():
    code = textwrap.dedent(
        """
        import resource, sys
        sys.path.insert(0, "tools")
        from grading_kernel import limit_memory
        limit_memory(600)
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            print("raised")
        except (ValueError, OSError):
            print("kept")
        try:
            hoard = bytearray(1024 * 2**20)
            print("allocated")
        except MemoryError:
            print("refused")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["kept", "refused"], done.stdout + done.stderr


def test_the_grading_kernel_refuses_a_bad_limit():
    with pytest.raises(SystemExit, match="MEMORY_MIB"):
        grading_kernel.main(["12"])
