"""Every exercise check, at once: it has a reference solution, and it never moves the notebook's RNG.

Then `compare` itself: bad answers of every kind are reported, never raised, and never hang.
"""

import math
import random
import signal
import threading
import time

import numpy as np
import pytest
import torch

import reslib as rl
from tests.helpers import ROOT, check_count_paths, load_solutions, stub

SOLUTIONS = {}
for path in sorted((ROOT / "notebooks" / "solutions").glob("*.py")):
    module = load_solutions(path.stem)
    SOLUTIONS.update({k: getattr(module, k) for k in dir(module) if not k.startswith("_")})
# notebook 05's exercises use the names a learner writes, not the check's
ALIASES = {
    "batch_norm_forward": "bn_forward",
    "batch_norm_backward": "bn_backward",
    "fold_into_conv": "fold_bn",
}
CHECKS = sorted(name for name in rl.checks.__all__ if name.startswith("check_"))


def _solution(check: str):
    name = check.removeprefix("check_")
    return SOLUTIONS[ALIASES.get(name, name)]


@pytest.mark.parametrize("check", CHECKS)
def test_every_check_has_a_reference_solution_that_passes(check):
    assert getattr(rl.checks, check)(_solution(check)).passed is True


@pytest.mark.parametrize("answer", ["stub", "solution"])
@pytest.mark.parametrize("check", CHECKS)
def test_a_check_leaves_the_notebooks_random_numbers_alone(check, answer):
    rl.set_seed(123)
    getattr(rl.checks, check)(stub if answer == "stub" else _solution(check))
    after = torch.rand(3), np.random.rand(3), random.random()
    rl.set_seed(123)
    assert torch.equal(after[0], torch.rand(3)), f"{check} reseeded or drew from torch's global RNG"
    assert np.array_equal(after[1], np.random.rand(3)), f"{check} moved NumPy's global RNG"
    assert after[2] == random.random(), f"{check} moved Python's random"


def test_an_answer_that_draws_random_numbers_does_not_move_the_notebooks_rng():
    def noisy(n, k):
        torch.manual_seed(0), np.random.seed(0), random.seed(0)
        return math.comb(n, k) + 0 * torch.rand(1).item() + 0 * np.random.rand() + 0 * random.random()

    before = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    assert check_count_paths(noisy).passed is True
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]


def test_hints_deepen_with_each_wrong_try_and_reset_on_a_pass():
    from reslib.checks.core import compare

    tiers = ("look at the sign", "the answer is x + 1")
    run = lambda fn: compare("tiers-demo", fn, lambda x: x + 1, [(1.0,), (2.0,)], tiers)
    first, second, third = (run(lambda x: x - 1) for _ in range(3))
    assert "Hint 1 of 2: look at the sign" in first.message and "Try again" in first.message
    assert "Hint 2 of 2: the answer is x + 1" in second.message and "Try again" not in second.message
    assert "Hint 2 of 2" in third.message  # the last tier stays
    assert run(lambda x: x + 1).passed
    assert "Hint 1 of 2" in run(lambda x: x - 1).message  # a pass starts the tiers again
    assert "Hint: one tier" in compare("one", lambda x: x, lambda x: x + 1, [(1.0,)], "one tier").message


def test_an_empty_hint_is_refused():
    from reslib.checks.core import tiered_hint

    with pytest.raises(ValueError, match="hint"):
        tiered_hint("x", ())


def _textbook_count_paths(n, k):  # Pascal's rule, recursively: about C(n, k) calls
    return 1 if k in (0, n) else _textbook_count_paths(n - 1, k - 1) + _textbook_count_paths(n - 1, k)


def test_a_runaway_recursion_is_stopped_with_a_hint_to_use_math_comb(monkeypatch):
    monkeypatch.setattr(rl.checks.core, "TIME_LIMIT", 0.5)
    handler = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    result = check_count_paths(_textbook_count_paths)
    assert time.perf_counter() - start < 3.0
    assert result.passed is False and "case 5 of 7 (54, 27)" in result.message
    assert "more than 0.5 s" in result.message and "math.comb" in result.message
    assert signal.getsignal(signal.SIGALRM) is handler, "the caller's SIGALRM handler is given back"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "no alarm is left armed"


def test_off_the_main_thread_a_slow_answer_is_stopped_by_waiting_in_a_thread(monkeypatch):
    monkeypatch.setattr(rl.checks.core, "TIME_LIMIT", 0.3)
    release = threading.Event()
    slow = lambda n, k: (release.wait(20), math.comb(n, k))[1]  # ends when released, not after 20 s
    results = []
    worker = threading.Thread(target=lambda: results.append(check_count_paths(slow)))
    worker.start()
    worker.join(5)
    release.set()
    assert results and results[0].passed is False and "case 1 of 7" in results[0].message


def test_a_timer_the_caller_armed_is_left_alone():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        assert check_count_paths(math.comb).passed is True
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < remaining <= 100.0 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_numpy_arrays_and_scalars_are_accepted():
    assert rl.checks.check_autocorrelation(lambda g: _solution("check_autocorrelation")(g).numpy()).passed
    assert check_count_paths(lambda n, k: np.int64(math.comb(n, k))).passed is True
    assert rl.checks.check_mlp_parameter_count(
        lambda d, w, i, o: np.float32(_solution("check_mlp_parameter_count")(d, w, i, o))
    ).passed
    assert rl.checks.check_channels_after_transition(np.int64(42)).passed  # a predicted number


@pytest.mark.parametrize(
    "answer, says",
    [
        (lambda n, k: str(math.comb(n, k)), "returned a str '1'"),
        (lambda n, k: None, "returned a NoneType"),
        (lambda n, k: {"paths": math.comb(n, k)}, "returned a dict"),
        (lambda n, k: complex(math.comb(n, k)), "returned a complex"),
        (lambda n, k: np.array(["1"]), "NumPy array of <U1"),
        (lambda n, k: [math.comb(n, k)] * 2, "shape (2,), expected shape ()"),
    ],
)
def test_strings_none_dicts_and_wrong_shapes_are_refused_with_a_clear_message(answer, says):
    result = check_count_paths(answer)
    assert result.passed is False and says in result.message and "Hint" in result.message


def test_nested_results_keep_their_shape():
    flat = lambda size, block: [n for shape in _solution("check_stage_shapes")(size, block) for n in shape]
    result = rl.checks.check_stage_shapes(flat)
    assert result.passed is False and "shape (12,), expected shape (4, 3)" in result.message


def test_an_exit_or_an_exotic_float_is_reported_not_raised():
    class Odd(float):  # a number whose value cannot be read
        def __float__(self):
            raise KeyError("odd")

    assert "SystemExit" in check_count_paths(lambda n, k: exit(3)).message
    assert "could not be read" in check_count_paths(lambda n, k: Odd(1.0)).message


def test_a_nan_in_the_answer_is_named():
    result = rl.checks.check_autocorrelation(lambda g: torch.full_like(g, math.nan))
    assert result.passed is False and "contains NaN (64 of 64 values)" in result.message


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"atol": math.nan}, "atol must be a finite number >= 0"),
        ({"rtol": -1e-6}, "rtol must be a finite number >= 0"),
        ({"cases": []}, "at least one case"),
    ],
)
def test_compare_refuses_nan_or_negative_tolerances_and_no_cases(kwargs, says):
    args = {"cases": [(1.0,)], **kwargs}
    with pytest.raises(ValueError, match=says):
        rl.checks.compare("x", lambda a: a + 1, lambda a: a, hint="h", **args)


def test_the_html_of_a_result_escapes_the_learners_text():
    def raises(n, k):
        raise ValueError("<b>bold</b> got <class 'int'>")

    page = check_count_paths(raises)._repr_html_()
    assert "<b>" not in page and "&lt;b&gt;bold&lt;/b&gt; got &lt;class &#x27;int&#x27;&gt;" in page


def test_compare_value_checks_a_prediction_against_the_measurement_without_giving_it_away():
    from reslib.checks.core import compare_value

    measure = lambda: rl.densenet.DenseBlock(3, 8, 4)(torch.zeros(1, 8, 4, 4)).shape[1]  # 8 + 3 * 4
    check = lambda answer: compare_value(
        "demo-channels", answer, measure, ("nudge", "formula"), what="the block"
    )
    assert check(...).passed is None and "not answered yet" in check(None).message
    high, low = check(40), check(12)
    assert high.passed is False and "too high" in high.message and "Hint 1 of 2: nudge" in high.message
    assert "too low" in low.message and "Hint 2 of 2: formula" in low.message
    assert "20" not in high.message + low.message  # the measurement is not given away
    assert check("twenty").passed is False and "str" in check("twenty").message
    assert "expected shape ()" in check([20, 20]).message
    assert check(20).passed is True and "the block agrees" in check(20).message
    assert check(20.0).passed is True
    assert "Hint 1 of 2" in check(21).message  # a pass starts the tiers again
    several = compare_value("demo-list", [1, 2], lambda: [1, 3], "h")
    assert several.passed is False and "not what it measures" in several.message
    with pytest.raises(ValueError, match="atol"):
        compare_value("x", 1, lambda: 1, "h", atol=-1.0)


def test_compare_value_measures_from_seed_0_and_leaves_the_rngs_alone():
    from reslib.checks.core import compare_value

    rl.set_seed(7)
    draws = []
    compare_value("demo-seed", 0.5, lambda: draws.append(torch.rand(1).item()) or 0.5, "h")
    after = torch.rand(1)
    rl.set_seed(7)
    assert torch.equal(after, torch.rand(1))
    rl.set_seed(0)
    assert draws == [torch.rand(1).item()]
