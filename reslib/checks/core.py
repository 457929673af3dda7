"""The protocol every exercise check follows.

Each `check_*` runs the learner's function on a few cases, compares it with a
reference, and returns a `CheckResult` that a notebook cell displays:
"not implemented yet" for an untouched stub (so Run All never crashes), a
hint and the largest difference for a wrong answer, a green tick otherwise.

A check cannot be fooled, crashed or hung by the answer: the answer works on its own deep
copy of each case, whatever it raises or returns becomes a message, it is stopped after
`TIME_LIMIT` seconds per case, and no global random generator moves.
"""

from __future__ import annotations

import copy
import html
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from reslib.checks.answers import (
    AnswerTimeout,
    AnswerTypeError,
    as_values,
    call_with_time_limit,
    describe,
    describe_case,
    preserved_rngs,
)
from reslib.runtime import local_seed
from reslib.validate import require_float, typechecked

# The protocol a notebook sees, re-exported as rl.checks.*. `local_seed`, `WrongAnswer` and
# `TIME_LIMIT` below are public but not listed: tools for the check modules, not for a learner.
__all__ = [
    "CheckResult",
    "compare",
    "compare_value",
    "tiered_hint",
]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `passed` is None when the exercise is not implemented yet."""

    name: str
    passed: bool | None
    message: str
    max_diff: float | None = None

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __repr__(self) -> str:
        mark = {True: "✅", False: "❌", None: "⏳"}[self.passed]
        return f"{mark} {self.name}: {self.message}"

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#cf222e", None: "#9a6700"}[self.passed]
        return f'<p style="color:{colour}; font-weight:600">{html.escape(repr(self))}</p>'


# Wrong answers so far, per check name: the hint deepens with each failed try (a nudge first,
# the formula only after a second failure). The only state a check keeps; a pass resets it.
_failures: Counter[str] = Counter()


@typechecked
def tiered_hint(name: str, hint: str | Sequence[str]) -> str:
    """The hint for this failed try of check `name`: tier k on the k-th failure, the last tier after.

    `hint` is one string (always shown) or a sequence of tiers, from a nudge to the formula.
    """
    tiers = [hint] if isinstance(hint, str) else list(hint)
    if not tiers or not all(isinstance(t, str) and t for t in tiers):
        raise ValueError(f"hint must be a non-empty string or a sequence of them, got {hint!r}")
    tier = min(_failures[name], len(tiers) - 1)
    _failures[name] += 1
    if len(tiers) == 1:
        return f"Hint: {tiers[0]}"
    more = " Still stuck? Try again, and the next run shows a fuller hint." if tier < len(tiers) - 1 else ""
    return f"Hint {tier + 1} of {len(tiers)}: {tiers[tier]}{more}"


class WrongAnswer(Exception):
    """Raised by a check's wrapper around the learner's function: its message is shown as it is.

    For what `compare` cannot see in a value, such as "the model you were given changed".
    """


# The time one case of a learner's answer may take, in seconds, before the check stops waiting.
TIME_LIMIT = 5.0
_SLOW_HINT = (
    "Your answer probably does far more work than it needs: look for a loop or a recursion "
    "that repeats the same work, and compute each value once."
)


def _values(value: Any, what: str) -> torch.Tensor | tuple:
    try:
        return as_values(value)
    except AnswerTypeError as exc:
        raise AnswerTypeError(f"returned {exc}; {what}") from None
    except Exception as exc:  # an exotic __float__ or a tensor that cannot be read
        message = f"returned a {type(value).__name__} that could not be read as numbers ({exc})"
        raise AnswerTypeError(message) from None


def _difference(got: torch.Tensor | tuple, want: torch.Tensor | tuple) -> tuple[str, float]:
    """("", max |got - want|) when the shapes agree; otherwise what is wrong with `got`."""
    if isinstance(got, tuple) != isinstance(want, tuple) or (
        isinstance(want, tuple) and len(got) != len(want)
    ):
        return f"gave {describe(got)}, expected {describe(want)}", 0.0
    if isinstance(want, tuple):
        worst = 0.0
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            problem, diff = _difference(g, w)
            if problem:
                return f"part {k + 1}: {problem}", 0.0
            worst = max(worst, diff)
        return "", worst
    if got.shape != want.shape:
        return f"{describe(got)}, expected {describe(want)}", 0.0
    nan = got.isnan() & ~want.isnan()
    if nan.any():
        return f"contains NaN ({int(nan.sum())} of {nan.numel()} values)", 0.0
    diff = (got - want).abs()
    diff = torch.where(diff.isnan(), 0.0, diff)  # NaN where the reference has NaN too: equal
    return "", diff.max().item() if diff.numel() else 0.0


def _close(got: torch.Tensor | tuple, want: torch.Tensor | tuple, atol: float, rtol: float) -> bool:
    if isinstance(want, tuple):
        return all(_close(g, w, atol, rtol) for g, w in zip(got, want, strict=True))
    return bool(torch.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True).all())


@typechecked
def compare(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    hint: str | Sequence[str],
    atol: float = 1e-6,
    rtol: float = 1e-5,
    slow_hint: str = _SLOW_HINT,
) -> CheckResult:
    """Run `fn(*case)` and `reference(*case)` for every case and compare the results.

    Each call gets its own deep copy of the case, made before either runs, so an answer that
    changes its inputs (in place, or by clearing a list) cannot change the reference's, and an
    in-place answer working on its own copy is fine. Results may be numbers, tensors, NumPy
    arrays, or tuples/lists of them; they are compared element-wise as float64 with
    `|a - b| <= atol + rtol * |b|`. `hint` is one string or tiers from a nudge to the formula;
    each wrong answer shows the next tier (`tiered_hint`). Any exception the answer raises is
    reported, not raised; an answer that runs past `TIME_LIMIT` seconds on one case is stopped
    (see `reslib.checks.answers.call_with_time_limit`) and `slow_hint` says why it may be slow.
    No random generator (torch, NumPy, `random`) is changed by the check or the answer.

    Raises:
        ValueError: `cases` is empty, or a tolerance is negative or NaN.
    """
    atol = require_float("atol", atol, minimum=0.0)
    rtol = require_float("rtol", rtol, minimum=0.0)
    if len(cases) == 0:
        raise ValueError(f"compare needs at least one case for {name!r}, got none")
    with preserved_rngs():
        return _compare(name, fn, reference, cases, hint, atol, rtol, slow_hint)


def _compare(name, fn, reference, cases, hint, atol, rtol, slow_hint) -> CheckResult:
    worst = 0.0
    for i, case in enumerate(cases):
        where = f"case {i + 1} of {len(cases)}"
        theirs, ours = copy.deepcopy(case), copy.deepcopy(case)
        try:
            got = call_with_time_limit(lambda args=theirs: fn(*args), TIME_LIMIT)
            got_values = _values(got, "expected numbers, tensors or NumPy arrays")
        except NotImplementedError:
            return CheckResult(
                name,
                None,
                "not implemented yet: replace the "
                "`raise NotImplementedError` with your code, then run this cell again.",
            )
        except AnswerTimeout:
            message = (
                f"{where} {describe_case(case)} ran for more than {TIME_LIMIT:g} s, so the check "
                f"stopped it. {slow_hint}"
            )
            return CheckResult(name, False, message)
        except (WrongAnswer, AnswerTypeError) as exc:
            return CheckResult(name, False, f"{where}: {exc}. {tiered_hint(name, hint)}")
        except (Exception, SystemExit) as exc:  # a learner's bug is feedback, not a crash
            return CheckResult(name, False, f"raised {type(exc).__name__}: {exc}. {tiered_hint(name, hint)}")
        with local_seed(0):  # a reference that builds a model draws the same weights every time
            want = as_values(reference(*ours))
        problem, max_diff = _difference(got_values, want)
        if problem:
            return CheckResult(name, False, f"{where} {problem}. {tiered_hint(name, hint)}")
        if not _close(got_values, want, atol, rtol):
            return CheckResult(
                name, False, f"{where} is off by up to {max_diff:.3g}. {tiered_hint(name, hint)}", max_diff
            )
        worst = max(worst, max_diff)
    _failures.pop(name, None)
    return CheckResult(name, True, f"correct on all {len(cases)} cases (max difference {worst:.1e})", worst)


def _direction(got: torch.Tensor | tuple, want: torch.Tensor | tuple) -> str:
    """Too high, too low, or empty (mixed or several values): all a wrong prediction is told."""
    if isinstance(got, tuple) or got.numel() != 1:
        return ""
    return "too high" if got.item() > want.item() else "too low" if got.item() < want.item() else ""


@typechecked
def compare_value(
    name: str,
    answer: Any,
    measure: Callable[[], Any],
    hint: str | Sequence[str],
    atol: float = 0.0,
    rtol: float = 0.0,
    what: str = "the measurement",
) -> CheckResult:
    """Compare a number the learner predicted (not a function) with what `measure()` measures.

    For exercises that ask for a prediction: the channels a dense block returns, the size a
    valid U-Net gives back, the variance after k blocks. `answer` is the learner's number, or a
    list/tuple of numbers; `...` (the exercise's placeholder) or None means not answered yet.
    `measure` builds the model and measures it (seeded with 0, RNGs given back), so the check
    reads the real thing, never a formula. A wrong answer is told only whether it is too high or
    too low, with the next tier of `hint`: the measurement itself is not given away.

    Raises:
        ValueError: a tolerance that is negative or NaN.
    """
    atol = require_float("atol", atol, minimum=0.0)
    rtol = require_float("rtol", rtol, minimum=0.0)
    if answer is ... or answer is None:
        return CheckResult(
            name, None, "not answered yet: replace the `...` with your prediction, then run this cell again."
        )
    try:
        got = _values(answer, "expected a number (or a list of numbers)")
    except AnswerTypeError as exc:
        text = str(exc).replace("returned ", "", 1)
        return CheckResult(name, False, f"your answer is {text}. {tiered_hint(name, hint)}")
    with preserved_rngs(), local_seed(0):
        want = as_values(measure())
    problem, max_diff = _difference(got, want)
    if problem:
        return CheckResult(name, False, f"your answer {problem}. {tiered_hint(name, hint)}")
    if not _close(got, want, atol, rtol):
        direction = _direction(got, want)
        off = f"{direction}: " if direction else "not what it measures: "
        return CheckResult(
            name,
            False,
            f"your prediction is {off}compare it with {what}. {tiered_hint(name, hint)}",
            max_diff,
        )
    _failures.pop(name, None)
    return CheckResult(name, True, f"right: {what} agrees with your prediction", max_diff)
