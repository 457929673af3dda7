"""Assignment mode inside the kernel: hidden cases, frozen values, and answers that call the reference.

`rl.checks.record` runs a check on a solution with its random cases drawn from other seeds and
keeps what the reference gave; `rl.checks.grade` runs the check on an answer against those values,
without running the reference, and raises unless it passes. The nbgrader side is tests/test_course.py.
"""

import subprocess
import sys
import textwrap

import pytest
import torch

import reslib as rl
import reslib.checks.mlp
from reslib.checks import grading
from tests.helpers import ROOT, load_solutions, stub

SOLUTIONS = load_solutions("01_sequential_networks")


@pytest.fixture(scope="module")
def chain_expected() -> str:
    return rl.checks.record("check_chain_gradient", SOLUTIONS.chain_gradient)


def test_a_recorded_check_grades_the_solution_and_fails_a_stub_or_a_wrong_answer(chain_expected):
    assert rl.checks.grade("check_chain_gradient", SOLUTIONS.chain_gradient, chain_expected).passed is True
    with pytest.raises(rl.checks.GradeFailed, match="not implemented yet"):
        rl.checks.grade("check_chain_gradient", stub, chain_expected)
    with pytest.raises(rl.checks.GradeFailed, match="off by up to"):
        rl.checks.grade("check_chain_gradient", lambda *a: 2 * SOLUTIONS.chain_gradient(*a), chain_expected)


def test_grading_runs_no_reference_code(chain_expected, monkeypatch):
    def broken(*args):
        raise AssertionError("the reference ran while grading")

    monkeypatch.setattr(reslib.checks.mlp, "chain_gradient_reference", broken)
    assert rl.checks.grade("check_chain_gradient", SOLUTIONS.chain_gradient, chain_expected).passed is True
    with pytest.raises(AssertionError, match="the reference ran"):  # self-study does run it
        rl.checks.check_chain_gradient(SOLUTIONS.chain_gradient)


def test_the_hidden_cases_are_not_the_public_ones(chain_expected):
    seen: dict[str, list] = {"public": [], "hidden": []}

    def spy(into):
        def answer(*args):
            seen[into].append(args)
            return SOLUTIONS.chain_gradient(*args)

        return answer

    rl.checks.check_chain_gradient(spy("public"))
    rl.checks.grade("check_chain_gradient", spy("hidden"), chain_expected)
    assert len(seen["public"]) == len(seen["hidden"]) == 6
    assert seen["public"][:2] == seen["hidden"][:2]  # the two hand-picked cases (with and without the skip)
    assert all(p != h for p, h in zip(seen["public"][2:], seen["hidden"][2:], strict=True))  # the random ones


@pytest.mark.parametrize(
    "answer",
    [
        lambda *a: rl.checks.chain_gradient_reference(*a),
        lambda *a: reslib.checks.mlp.chain_gradient_reference.__wrapped__(*a),  # under the type check
    ],
    ids=["public name", "unwrapped"],
)
def test_an_answer_that_calls_the_reference_fails(chain_expected, answer):
    with pytest.raises(rl.checks.GradeFailed, match="called chain_gradient_reference"):
        rl.checks.grade("check_chain_gradient", answer, chain_expected)
    result = rl.checks.check_chain_gradient(answer)  # self-study too
    assert result.passed is False and "which does this exercise for you" in result.message


def test_the_reference_cannot_be_reached_by_an_alias_a_caught_error_or_the_stack():
    alias = rl.checks.chain_gradient_reference

    def swallowing(*a):
        try:
            return alias(*a)
        except Exception:
            return 0.0

    def walker(*a):
        frame = sys._getframe()
        while frame is not None:
            if callable(frame.f_locals.get("reference")):
                return frame.f_locals["reference"](*a)
            frame = frame.f_back
        return 0.0

    def untracing(*a):
        sys.settrace(None)
        return alias(*a)

    for answer in (swallowing, walker):
        result = rl.checks.check_chain_gradient(answer)
        assert result.passed is False and "called chain_gradient_reference" in result.message, answer
    result = rl.checks.check_chain_gradient(untracing)
    assert result.passed is False and "may not call sys.settrace" in result.message
    assert sys.gettrace() is None or "pytest" in repr(sys.gettrace()) or "coverage" in repr(sys.gettrace())


def test_a_stack_walking_answer_finds_no_value_to_copy_while_graded(chain_expected):
    def copier(*a):  # the robustness review's generic answer: copy what the check computed
        frame = sys._getframe()
        while frame is not None:
            if isinstance(frame.f_locals.get("want"), torch.Tensor):
                return frame.f_locals["want"].item()
            frame = frame.f_back
        return 0.0

    def unpacker(*a):  # or read the frozen values with the grader's own code
        return grading._unpack(grading._session.get().replay[0][2]).item()

    with pytest.raises(rl.checks.GradeFailed, match="off by up to"):
        rl.checks.grade("check_chain_gradient", copier, chain_expected)
    with pytest.raises(rl.checks.GradeFailed, match="called _unpack"):
        rl.checks.grade("check_chain_gradient", unpacker, chain_expected)


def test_a_library_function_that_solves_the_exercise_is_refused_but_others_are_not():
    result = rl.checks.check_lesion(rl.paths.lesion)
    assert result.passed is False and "called lesion" in result.message
    # rl.mlp.mlp is not the exercise: an answer may build networks with it
    assert rl.checks.check_residual_forward(load_solutions("01_sequential_networks").residual_forward).passed


def test_grade_names_a_wrong_check_or_record(chain_expected):
    with pytest.raises(ValueError, match="check must name one of rl.checks' checks, got 'check_nothing'"):
        rl.checks.grade("check_nothing", stub, chain_expected)
    with pytest.raises(TypeError, match="check"):
        rl.checks.grade(rl.checks.check_chain_gradient, stub, chain_expected)
    with pytest.raises(ValueError, match="recorded for 'check_chain_gradient', not 'check_autocorrelation'"):
        rl.checks.grade("check_autocorrelation", stub, chain_expected)
    with pytest.raises(ValueError, match="not text that record"):
        rl.checks.grade("check_chain_gradient", stub, "not a record")
    with pytest.raises(ValueError, match="variant"):
        rl.checks.record("check_chain_gradient", SOLUTIONS.chain_gradient, variant=0)


def test_values_recorded_for_other_cases_are_a_grading_error(chain_expected):
    variant, packed = grading._decode("check_chain_gradient", chain_expected)
    values = [(n, i, grading._unpack(v)) for n, i, v in packed]
    short = grading._encode("check_chain_gradient", variant, values[:-1])
    with pytest.raises(rl.checks.GradingError, match="no value was recorded for case 6"):
        rl.checks.grade("check_chain_gradient", SOLUTIONS.chain_gradient, short)
    renamed = grading._encode("check_chain_gradient", variant, [("other", i, v) for _, i, v in values])
    with pytest.raises(rl.checks.GradingError, match="regenerate the course"):
        rl.checks.grade("check_chain_gradient", SOLUTIONS.chain_gradient, renamed)


def test_a_solution_that_fails_its_hidden_cases_cannot_be_recorded():
    with pytest.raises(rl.checks.GradingError, match="reference solution fails variant 1"):
        rl.checks.record("check_chain_gradient", lambda *a: 0.0)


def test_limited_hints_stop_at_the_first_tier():
    wrong = lambda *a: 0.0
    rl.checks.limit_hints(1)
    try:
        for _ in range(3):
            message = rl.checks.check_chain_gradient(wrong).message
            assert "Hint: follow h1 to y" in message and "sigma'(z)" not in message
    finally:
        rl.checks.limit_hints(None)
    rl.checks.check_chain_gradient(wrong)
    assert "sigma'(z)" in rl.checks.check_chain_gradient(wrong).message  # every tier again
    with pytest.raises(ValueError, match="tiers"):
        rl.checks.limit_hints(0)
    with pytest.raises(TypeError, match="tiers"):
        rl.checks.limit_hints("1")


def test_a_fresh_kernels_first_check_does_not_mistake_torchs_lazy_imports_for_a_patch():
    # The first optimizer.step() of a process imports torch._dynamo, which wraps torch.manual_seed:
    # inside an answer that looked like the answer had patched torch ("replaced torch.manual_seed").
    code = textwrap.dedent(
        """
        import reslib as rl
        from tests.helpers import load_solutions
        block = load_solutions("01_sequential_networks").IdentityInitBlock
        print(rl.checks.check_identity_init_block(block).passed)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True", done.stdout + done.stderr


def test_frozen_values_are_numbers_not_code(chain_expected):
    variant, packed = grading._decode("check_chain_gradient", chain_expected)
    assert variant == 1 and len(packed) == 6
    values = [grading._unpack(v) for _, _, v in packed]
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in values)
