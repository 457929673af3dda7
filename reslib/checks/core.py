"""The protocol every exercise check follows.

Each `check_*` runs the learner's function on a few cases, compares it with a
reference, and returns a `CheckResult` that a notebook cell displays:
"not implemented yet" for an untouched stub (so Run All never crashes), a
hint and the largest difference for a wrong answer, a green tick otherwise.

A check cannot be crashed or hung by the answer, and nothing the answer does outlives it: the
reference runs first, on its own deep copy of each case; the answer works on another; whatever it
raises or returns becomes a message; it is stopped after `TIME_LIMIT` seconds per case (reading
what it returned included); and every global setting, random generator and library function it
changed is given back (`reslib.checks.answers.run_answer`). The difference is measured by the
check's own arithmetic against its own tolerance.

An answer that calls the check's reference, or a library function that does the exercise
(`solved_by`), fails, however it reached it. What a check in the learner's kernel cannot stop is
code that copies the reference's value from the check's memory: in self-study that only cheats
oneself. While an assignment is graded (`reslib.checks.grading.grade`), no reference runs and the
recorded value is read only after the answer has run.
"""

from __future__ import annotations

import copy
import html
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from reslib.checks import grading
from reslib.checks.answers import (
    AnswerOutcome,
    AnswerTampered,
    AnswerTimeout,
    code_objects,
    preserved_rngs,
    run_answer,
)
from reslib.checks.grading import expected
from reslib.checks.values import AnswerTypeError, as_values, describe, describe_case
from reslib.language import tr
from reslib.runtime import local_seed
from reslib.validate import require_float, require_int, typechecked

# The protocol a notebook sees, re-exported as rl.checks.*. `local_seed`, `WrongAnswer` and
# `TIME_LIMIT` below are public but not listed: tools for the check modules, not for a learner.
__all__ = [
    "CheckResult",
    "compare",
    "compare_value",
    "limit_hints",
    "tiered_hint",
]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `passed` is None when the exercise is not implemented yet."""

    name: str
    passed: bool | None
    message: str
    max_diff: float | None = None

    def __post_init__(self) -> None:
        for field in ("name", "message"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(
                    f"CheckResult: {field} must be a str, got {type(getattr(self, field)).__name__}"
                )
        if self.passed not in (True, False, None) or not isinstance(self.passed, (bool, type(None))):
            raise TypeError(f"CheckResult: passed must be True, False or None, got {self.passed!r}")
        if self.max_diff is not None:
            if isinstance(self.max_diff, bool) or not isinstance(self.max_diff, (int, float)):
                raise TypeError(f"CheckResult: max_diff must be a number or None, got {self.max_diff!r}")
            if self.max_diff != self.max_diff or self.max_diff < 0:
                raise ValueError(f"CheckResult: max_diff must be >= 0 (inf allowed), got {self.max_diff!r}")

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
# The deepest tier a hint may reach (`limit_hints`); None: every tier.
_hint_tiers: int | None = None


@typechecked
def limit_hints(tiers: int | None) -> None:
    """Show at most the first `tiers` tiers of every hint from now on; None shows them all again.

    An assignment's release calls `limit_hints(1)` in its setup cell: a wrong answer then gets the
    nudge, never the formula that the later tiers of a self-study hint spell out.
    """
    global _hint_tiers
    if tiers is not None:
        tiers = require_int("tiers", tiers, minimum=1)
    _hint_tiers = tiers


@typechecked
def tiered_hint(name: str, hint: str | Sequence[str]) -> str:
    """The hint for this failed try of check `name`: tier k on the k-th failure, the last tier after.

    `hint` is one string (always shown) or a sequence of tiers, from a nudge to the formula.
    """
    tiers = [hint] if isinstance(hint, str) else list(hint)
    if not tiers or not all(isinstance(t, str) and t for t in tiers):
        raise ValueError(f"hint must be a non-empty string or a sequence of them, got {hint!r}")
    tiers = tiers[:_hint_tiers]
    tier = min(_failures[name], len(tiers) - 1)
    _failures[name] += 1
    if len(tiers) == 1:
        return tr("Hint: {hint}", hint=tiers[0])
    more = (
        " " + tr("Still stuck? Try again, and the next run shows a fuller hint.")
        if tier < len(tiers) - 1
        else ""
    )
    return tr("Hint {tier} of {tiers}: {hint}", tier=tier + 1, tiers=len(tiers), hint=tiers[tier]) + more


class WrongAnswer(Exception):
    """Raised by a check's wrapper around the learner's function: its message is shown as it is.

    For what `compare` cannot see in a value, such as "the model you were given changed".
    """


# The time one case of a learner's answer may take, in seconds, before the check stops waiting.
TIME_LIMIT = 5.0


def _values(value: Any, prediction: bool = False) -> torch.Tensor | tuple:
    """`value` as numbers, or an `AnswerTypeError` about what an answer returned (or a prediction is)."""
    try:
        return as_values(value)
    except AnswerTypeError as exc:
        if prediction:
            message = tr("your answer is {value}; expected a number (or a list of numbers)", value=exc)
        else:
            message = tr("returned {value}; expected numbers, tensors or NumPy arrays", value=exc)
    except Exception as exc:  # an exotic __float__ or a tensor that cannot be read
        kind = type(value).__name__
        if prediction:
            message = tr(
                "your answer is a {kind} that could not be read as numbers ({error})", kind=kind, error=exc
            )
        else:
            message = tr(
                "returned a {kind} that could not be read as numbers ({error})", kind=kind, error=exc
            )
    raise AnswerTypeError(message)


def _difference(got: torch.Tensor | tuple, want: torch.Tensor | tuple) -> tuple[str, float]:
    """("", max |got - want|) when the shapes agree; otherwise what is wrong with `got`.

    NaN where the reference has NaN too counts as equal; infinities equal when they agree.
    """
    if isinstance(got, tuple) != isinstance(want, tuple) or (
        isinstance(want, tuple) and len(got) != len(want)
    ):
        return tr("gave {got}, expected {want}", got=describe(got), want=describe(want)), 0.0
    if isinstance(want, tuple):
        worst = 0.0
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            problem, diff = _difference(g, w)
            if problem:
                return tr("part {k}: {problem}", k=k + 1, problem=problem), 0.0
            worst = max(worst, diff)
        return "", worst
    if got.shape != want.shape:
        return tr("{got}, expected {want}", got=describe(got), want=describe(want)), 0.0
    nan = got.isnan() & ~want.isnan()
    if nan.any():
        return tr("contains NaN ({count} of {total} values)", count=int(nan.sum()), total=nan.numel()), 0.0
    diff = torch.where(got == want, 0.0, (got - want).abs())  # equal infinities: 0, not NaN
    diff = torch.where(diff.isnan() & want.isnan(), 0.0, diff)  # NaN where the reference has NaN
    return "", diff.max().item() if diff.numel() else 0.0


def _close(got: torch.Tensor | tuple, want: torch.Tensor | tuple, atol: float, rtol: float) -> bool:
    """Every |got - want| <= atol + rtol * |want|, by this function's own arithmetic."""
    if isinstance(want, tuple):
        return all(_close(g, w, atol, rtol) for g, w in zip(got, want, strict=True))
    if want.numel() == 0:
        return True
    diff = torch.where(got == want, 0.0, (got - want).abs())
    diff = torch.where(diff.isnan() & want.isnan() & got.isnan(), 0.0, diff)
    excess = diff - (atol + rtol * want.abs().nan_to_num(posinf=0.0))
    worst = excess.max().item()
    return worst == worst and worst <= 0.0  # NaN (one side only) is never close


@typechecked
def compare(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    hint: str | Sequence[str],
    atol: float = 1e-6,
    rtol: float = 1e-5,
    slow_hint: str = "",
    solved_by: Sequence[Callable[..., Any]] = (),
) -> CheckResult:
    """Run `fn(*case)` and `reference(*case)` for every case and compare the results.

    Each call gets its own deep copy of the case, made before either runs, so an answer that
    changes its inputs (in place, or by clearing a list) cannot change the reference's, and an
    in-place answer working on its own copy is fine. Results may be numbers, tensors, NumPy
    arrays, or tuples/lists of them; they are compared element-wise as float64 with
    `|a - b| <= atol + rtol * |b|`. `hint` is one string or tiers from a nudge to the formula;
    each wrong answer shows the next tier (`tiered_hint`). Any exception the answer raises is
    reported, not raised; an answer that runs past `TIME_LIMIT` seconds on one case is stopped
    (see `reslib.checks.answers.call_with_time_limit`) and `slow_hint` says why it may be slow
    (by default: a loop or recursion that repeats work).
    No random generator (torch, NumPy, `random`) is changed by the check or the answer.

    While the answer runs, a call into `reference` or into `solved_by` (library functions that
    would do the exercise for the learner, such as `reslib.paths.lesion` for the lesion
    exercise) fails it, however the answer reached them. While an assignment is graded
    (`reslib.checks.grading.grade`), the reference is not run: its values were recorded when the
    course was made.

    Raises:
        ValueError: `cases` is empty, or a tolerance is negative or NaN.
    """
    atol = require_float("atol", atol, minimum=0.0)
    rtol = require_float("rtol", rtol, minimum=0.0)
    if len(cases) == 0:
        raise ValueError(f"compare needs at least one case for {name!r}, got none")
    forbidden = code_objects([reference, *solved_by, *grading.internals()])
    slow_hint = slow_hint or tr(
        "Your answer probably does far more work than it needs: look for a loop or a recursion "
        "that repeats the same work, and compute each value once."
    )
    with preserved_rngs():
        return _compare(name, fn, reference, cases, hint, atol, rtol, slow_hint, forbidden)


def _from_library(exc: BaseException) -> bool:
    """Whether `exc` was raised inside torch or NumPy rather than in the learner's own code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return any(part in where for part in ("/torch/", "/numpy/", "\\torch\\", "\\numpy\\"))


def _compare(name, fn, reference, cases, hint, atol, rtol, slow_hint, forbidden) -> CheckResult:
    worst, notes = 0.0, set()
    for i, case in enumerate(cases):
        where = tr("case {i} of {n}", i=i + 1, n=len(cases))
        theirs, ours = copy.deepcopy(case), copy.deepcopy(case)
        # The reference first, before the answer can touch anything; the same weights every time.
        # While grading, no reference runs and the frozen value is read after the answer: an answer
        # that walks the stack to this frame finds nothing to copy.
        replaying = grading.replaying()
        if not replaying:
            with local_seed(0):
                want = expected(name, i, lambda args=ours: as_values(reference(*args)))
        outcome = AnswerOutcome()
        try:
            got_values = run_answer(
                lambda args=theirs: fn(*args),
                TIME_LIMIT,
                _values,
                outcome,
                forbidden,
            )
        except NotImplementedError as exc:
            if _from_library(exc):  # torch's own ("Cannot copy out of meta tensor"), not the stub's
                message = tr("raised {error}: {exc}.", error="NotImplementedError", exc=exc)
                return CheckResult(name, False, f"{message} {tiered_hint(name, hint)}")
            return CheckResult(
                name,
                None,
                tr(
                    "not implemented yet: replace the "
                    "`raise NotImplementedError` with your code, then run this cell again."
                ),
            )
        except AnswerTimeout:
            message = tr(
                "{where} {case} ran for more than {limit:g} s, so the check stopped it.",
                where=where,
                case=describe_case(case),
                limit=TIME_LIMIT,
            )
            message = f"{message} {slow_hint} {outcome.note()}"
            return CheckResult(name, False, message.strip())
        except AnswerTampered as exc:
            return CheckResult(name, False, f"{where}: {exc}.")
        except (WrongAnswer, AnswerTypeError) as exc:
            return CheckResult(name, False, f"{where}: {exc}. {tiered_hint(name, hint)}")
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a learner's bug is feedback
            message = tr("raised {error}: {exc}.", error=type(exc).__name__, exc=exc)
            return CheckResult(name, False, f"{message} {tiered_hint(name, hint)}")
        if outcome.note():
            notes.add(outcome.note())
        if replaying:
            want = expected(name, i, lambda: None)
        problem, max_diff = _difference(got_values, want)
        if problem:
            return CheckResult(name, False, f"{where} {problem}. {tiered_hint(name, hint)}")
        if not _close(got_values, want, atol, rtol):
            message = tr("{where} is off by up to {diff:.3g}.", where=where, diff=max_diff)
            return CheckResult(name, False, f"{message} {tiered_hint(name, hint)}", max_diff)
        worst = max(worst, max_diff)
    _failures.pop(name, None)
    message = tr("correct on all {n} cases (max difference {worst:.1e})", n=len(cases), worst=worst)
    return CheckResult(name, True, " ".join([message, *sorted(notes)]), worst)


def _plain(value: Any) -> Any:
    """`value` as plain Python data: number and sequence subclasses read into int/float/list/tuple."""
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        return (
            type(value)(_plain(v) for v in value)
            if type(value) in (list, tuple)
            else list(map(_plain, value))
        )
    if isinstance(value, bool) or value is None or value is ...:
        return value
    if isinstance(value, int):  # a subclass's __int__ runs here, inside the limit
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def read_answer(answer: Any) -> Any:
    """A predicted value as plain data, read inside the time limit with the world given back.

    For checks that look at an answer before `compare_value` does (`...` in a list, an integer):
    reading a learner's object runs its code (an `__iter__`, an `__int__`), so it is read once,
    here, like any answer.

    Raises:
        WrongAnswer: reading it raised, took past `TIME_LIMIT` or changed library code.
    """
    try:
        return run_answer(lambda: answer, TIME_LIMIT, _plain, AnswerOutcome())
    except AnswerTimeout:
        raise WrongAnswer(
            tr("reading your answer took more than {limit:g} s; give plain numbers", limit=TIME_LIMIT)
        ) from None
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        raise WrongAnswer(
            tr(
                "reading your answer raised {error}: {exc}; give plain numbers",
                error=type(exc).__name__,
                exc=exc,
            )
        ) from None


def _direction(got: torch.Tensor | tuple, want: torch.Tensor | tuple) -> str:
    """Too high, too low, or empty (mixed or several values): all a wrong prediction is told."""
    if isinstance(got, tuple) or got.numel() != 1:
        return ""
    return tr("too high") if got.item() > want.item() else tr("too low") if got.item() < want.item() else ""


@typechecked
def compare_value(
    name: str,
    answer: Any,
    measure: Callable[[], Any],
    hint: str | Sequence[str],
    atol: float = 0.0,
    rtol: float = 0.0,
    what: str = "",
) -> CheckResult:
    """Compare a number the learner predicted (not a function) with what `measure()` measures.

    For exercises that ask for a prediction: the channels a dense block returns, the size a
    valid U-Net gives back, the variance after k blocks. `answer` is the learner's number, or a
    list/tuple of numbers; `...` (the exercise's placeholder) or None means not answered yet.
    `measure` builds the model and measures it (seeded with 0, RNGs given back), so the check
    reads the real thing, never a formula. A wrong answer is told only whether it is too high or
    too low, with the next tier of `hint`: the measurement itself is not given away. `what` names
    the measurement in the verdict ("the measurement" by default).

    Raises:
        ValueError: a tolerance that is negative or NaN.
    """
    atol = require_float("atol", atol, minimum=0.0)
    rtol = require_float("rtol", rtol, minimum=0.0)
    what = what or tr("the measurement")
    if answer is ... or answer is None:
        return CheckResult(
            name,
            None,
            tr("not answered yet: replace the `...` with your prediction, then run this cell again."),
        )
    replaying = grading.replaying()  # while grading, the frozen value is read after the answer
    if not replaying:
        with preserved_rngs(), local_seed(0):  # first, before the answer's value is read
            want = expected(name, 0, lambda: as_values(measure()))
    try:  # reading the answer runs its code too (a __float__, an __iter__): limited and guarded
        got = run_answer(
            lambda: answer,
            TIME_LIMIT,
            lambda a: _values(a, prediction=True),
            AnswerOutcome(),
            code_objects(grading.internals()),
        )
    except AnswerTypeError as exc:
        return CheckResult(name, False, f"{exc}. {tiered_hint(name, hint)}")
    except AnswerTimeout:
        return CheckResult(
            name,
            False,
            tr("reading your answer took more than {limit:g} s; give a plain number.", limit=TIME_LIMIT),
        )
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        message = tr(
            "reading your answer raised {error}: {exc}; give a plain number.",
            error=type(exc).__name__,
            exc=exc,
        )
        return CheckResult(name, False, message)
    if replaying:
        want = expected(name, 0, lambda: None)
    problem, max_diff = _difference(got, want)
    if problem:
        message = tr("your answer: {problem}.", problem=problem)
        return CheckResult(name, False, f"{message} {tiered_hint(name, hint)}")
    if not _close(got, want, atol, rtol):
        direction = _direction(got, want) or tr("not what it measures")
        message = tr(
            "your prediction is {direction}: compare it with {what}.", direction=direction, what=what
        )
        return CheckResult(name, False, f"{message} {tiered_hint(name, hint)}", max_diff)
    _failures.pop(name, None)
    return CheckResult(name, True, tr("right: {what} agrees with your prediction", what=what), max_diff)
