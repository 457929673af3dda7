"""Adversarial answers against every exercise check, in sequence, in one process.

Each answer below is the reference solution plus one thing a learner might do by accident or on
purpose: change a global setting, patch library code, return a value whose conversion is slow or
lies, catch the check's stop, or try to end the process. After each, every global setting must be
what it was, library code must be untouched, and the check's verdict must be the right one; at the
end every check still grades its solution as right and a stub as not done.
"""

import io
import math
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import torch

import reslib as rl
from tests.helpers import check_count_paths, stub
from tests.test_checks_core import CHECKS, _solution


@pytest.fixture(autouse=True, scope="module")
def _imports_done():
    """Run every check once first: the first run imports modules that add warning filters of their own."""
    for check in CHECKS:
        getattr(rl.checks, check)(_solution(check))


def _world() -> dict:
    """Every global setting a check promises to give back, read with the test's own calls."""
    return {
        "dtype": torch.get_default_dtype(),
        "device": torch.empty(0).device,
        "grad": torch.is_grad_enabled(),
        "anomaly": torch.is_anomaly_enabled(),
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "matmul": torch.get_float32_matmul_precision(),
        "numpy": np.geterr(),
        "recursion": sys.getrecursionlimit(),
        "stdout": (sys.stdout, sys.stderr),
        "warnings": list(warnings.filters),
        "signal": (signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)),
        "code": (torch.isclose, torch.Tensor.abs, rl.paths.lesion, rl.mlp.ResidualBlock.forward, os._exit),
        "rng": torch.get_rng_state(),
    }


# Side effects: each changes one global thing. The answer computes the right value first.
SETTINGS = {
    "default dtype float16": lambda: torch.set_default_dtype(torch.float16),
    "default device meta": lambda: torch.set_default_device("meta"),
    "grad off": lambda: torch.set_grad_enabled(False),
    "anomaly on": lambda: torch.autograd.set_detect_anomaly(True),
    "one thread": lambda: torch.set_num_threads(1),
    "deterministic": lambda: torch.use_deterministic_algorithms(True),
    "matmul precision": lambda: torch.set_float32_matmul_precision("medium"),
    "numpy raises": lambda: np.seterr(all="raise"),
    "recursion limit": lambda: sys.setrecursionlimit(123_456),
    "stdout swallowed": lambda: setattr(sys, "stdout", io.StringIO()),
    "warnings as errors": lambda: warnings.simplefilter("error"),
    "random draws": lambda: (torch.manual_seed(7), torch.rand(5)),
}
# Patches of library code: the check must fail the answer and put the code back.
PATCHES = {
    "torch.isclose": lambda: setattr(torch, "isclose", lambda *a, **k: torch.tensor(True)),
    "Tensor.abs": lambda: setattr(torch.Tensor, "abs", lambda self: torch.zeros_like(self)),
    "reslib function": lambda: setattr(rl.paths, "lesion", lambda *a, **k: None),
    "a class's forward": lambda: setattr(rl.mlp.ResidualBlock, "forward", lambda self, x: x),
}
# Calls that would end the process or disarm the stop: refused while the answer runs.
REFUSED = {
    "os._exit": lambda: os._exit(0),
    "cancel the timer": lambda: signal.setitimer(signal.ITIMER_REAL, 0),
    "ignore the alarm": lambda: signal.signal(signal.SIGALRM, signal.SIG_IGN),
}


class _Float(float):
    def __new__(cls, value, effect):
        self = super().__new__(cls, value)
        self.effect = effect
        return self

    def __float__(self):
        self.effect()
        return float.__float__(self)


class _List(list):
    def __init__(self, values, effect):
        super().__init__(values)
        self.effect = effect

    def __iter__(self):
        self.effect()
        return super().__iter__()


def _with(check: str, effect):
    """The check's solution, with `effect` run where the check runs the learner's code."""
    solution = math.comb if check == "check_count_paths" else _solution(check)
    if callable(solution):

        def answer(*args, **kwargs):
            value = solution(*args, **kwargs)
            effect()
            return value

        return answer
    if isinstance(solution, (list, tuple)):
        return _List(solution, effect)
    return _Float(solution, effect)


def _verdict(check, answer) -> rl.checks.CheckResult:
    before = _world()
    result = (check_count_paths if check == "check_count_paths" else getattr(rl.checks, check))(answer)
    after = _world()
    changed = [k for k in before if not _same(before[k], after[k])]
    assert not changed, f"{check}: the answer left {changed} changed"
    return result


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# Settings that change what the check's own code computes with the answer's result until the
# answer's run ends (a module it returns is run in float16, on meta, without grad): the answer may
# fail for it, with a message; the others cannot change a right answer's verdict.
CHANGES_THE_ARITHMETIC = {
    "default dtype float16",
    "default device meta",
    "grad off",
    "numpy raises",
    "warnings as errors",
    "deterministic",
    # on a CPU with bfloat16 units (AVX512-BF16, AMX) "medium" makes oneDNN multiply float32 in
    # bfloat16: check_my_dense_block's module is then off by ~1e-3; elsewhere it changes nothing
    "matmul precision",
}


@pytest.mark.parametrize("effect", SETTINGS)
def test_a_changed_global_setting_is_given_back_and_the_next_check_grades_right(effect):
    for check, after in zip(CHECKS, [*CHECKS[1:], CHECKS[0]], strict=True):
        result = _verdict(check, _with(check, SETTINGS[effect]))
        assert result.passed is True or (effect in CHANGES_THE_ARITHMETIC and result.passed is False), (
            f"{check} after {effect}: {result.message}"
        )
        assert getattr(rl.checks, after)(_solution(after)).passed is True, (
            f"{after}, after {check} with {effect}"
        )


@pytest.mark.parametrize("patch", PATCHES)
def test_patched_library_code_fails_the_answer_and_is_put_back(patch):
    for check in CHECKS:
        result = _verdict(check, _with(check, PATCHES[patch]))
        if callable(_solution(check)) or "code" in result.message:
            assert result.passed is False and "may not change library code" in result.message, (
                f"{check} after patching {patch}: {result.message}"
            )


@pytest.mark.parametrize("call", REFUSED)
def test_ending_the_process_or_disarming_the_timer_is_refused(call):
    for check in CHECKS:
        result = _verdict(check, _with(check, REFUSED[call]))
        assert result.passed is False and "an answer may not call" in result.message, f"{check}: {result}"


def test_a_lying_tensor_subclass_is_refused():
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return torch.tensor(0.0)  # every operation on it claims "no difference"

    answer = lambda n, k: torch.tensor(float(n)).as_subclass(Liar)
    result = _verdict("check_count_paths", answer)
    assert result.passed is False and "tensor subclass Liar" in result.message


SLOW = {
    "slow __float__": lambda: time.sleep(30),
    "catches every stop for 2 s": lambda: _stubborn(2.0),
}


def _stubborn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            time.sleep(0.02)
        except BaseException:
            pass


@pytest.mark.parametrize("kind", SLOW)
def test_slow_conversions_and_a_caught_stop_are_still_stopped(kind, monkeypatch):
    monkeypatch.setattr(rl.checks.core, "TIME_LIMIT", 0.3)
    monkeypatch.setattr(rl.checks.answers, "GRACE", 0.3)
    for check in ("check_count_paths", "check_growth_rate_factor", "check_tile_size"):
        start = time.perf_counter()
        result = _verdict(check, _with(check, SLOW[kind]))
        elapsed = time.perf_counter() - start
        assert result.passed is False, f"{check}: {result.message}"
        assert "more than 0.3 s" in result.message or "took more than" in result.message, result.message
        assert elapsed < 6.0, f"{check} waited {elapsed:.1f} s for a {kind} answer"


def test_memory_a_stopped_answer_held_is_released(monkeypatch):
    monkeypatch.setattr(rl.checks.core, "TIME_LIMIT", 0.5)

    def greedy(n, k):
        hoard = torch.ones(100 * 2**20)  # 400 MB, held until the answer is stopped
        while True:
            hoard[0] += 1

    result = _verdict("check_count_paths", greedy)
    assert result.passed is False and "ran for more than" in result.message
    assert "restart the kernel" not in result.message, "400 MB held after the stop"


def test_every_check_still_grades_right_after_the_whole_sequence():
    for check in CHECKS:
        assert getattr(rl.checks, check)(_solution(check)).passed is True, check
        assert getattr(rl.checks, check)(stub if callable(_solution(check)) else ...).passed is None, check


def test_math_is_untouched():
    assert math.comb(5, 2) == 10 and torch.isclose(torch.tensor(1.0), torch.tensor(1.0))


def test_off_the_main_thread_a_runaway_loop_is_stopped_not_left_running(monkeypatch):
    monkeypatch.setattr(rl.checks.core, "TIME_LIMIT", 0.3)
    monkeypatch.setattr(rl.checks.answers, "GRACE", 0.5)
    spins = []

    def runaway(n, k):
        while True:
            spins.append(1)
            del spins[:]

    results = []
    caller = threading.Thread(target=lambda: results.append(check_count_paths(runaway)))
    caller.start()
    caller.join(10)
    assert results and results[0].passed is False and "ran for more than" in results[0].message
    time.sleep(0.2)
    workers = [t for t in threading.enumerate() if t.name == "reslib-check-answer"]
    assert not workers, "the stopped answer's thread is still running"
