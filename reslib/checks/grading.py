"""Assignment mode: every check on hidden cases, against values frozen when the course was made.

A lecturer's course (`python -m tools.course`, see the README) turns each check cell into an
nbgrader test cell with two parts. The learner sees the usual check, on its public cases. The
hidden part calls `grade(check, answer, expected)`: the same check with its random cases drawn
from other seeds (`variant`), compared with `expected`, the values the reference solution gave on
those cases when the course was generated (`record`). So grading runs no reference code at all,
and an answer that calls one (`rl.checks.chain_gradient_reference`, the library function the
exercise asks the learner to write) fails: `compare` watches for it while the answer runs.

`expected` is text: the values as float64 bytes, zlib-compressed, base64-encoded, with the check
name and the variant. It holds numbers only, never code, and is read without pickle.

Note:
    A hidden test runs in the learner's process, as every nbgrader test does: code that reads
    the grader's memory can find the frozen values. Read the submissions a test flags.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from reslib.language import tr
from reslib.validate import require_int, typechecked

__all__ = ["GradeFailed", "GradingError", "grade", "record"]

# Seeds of a variant's cases: the public seed plus this times the variant, far from every seed a
# check uses (all below 1,000).
VARIANT_STRIDE = 7919
# The largest variant: its seeds stay far inside what torch takes (2**63 - 1).
MAX_VARIANT = 10**6
# Frozen values larger than this (bytes, before compression) are refused: a test cell stays small.
MAX_EXPECTED_BYTES = 4 * 2**20


class GradingError(RuntimeError):
    """The frozen values do not fit the check: regenerate the course with this version of reslib."""


class GradeFailed(AssertionError):
    """The answer did not pass the hidden cases: nbgrader gives the test cell no points."""


@dataclass
class _Session:
    variant: int
    replay: list[tuple[str, int, Any]] | None  # None: recording
    recorded: list[tuple[str, int, Any]] = field(default_factory=list)
    cursor: int = 0


_session: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("reslib_grading", default=None)


def replaying() -> bool:
    """Whether a `grade` is running: then `compare` runs the answer before it reads the frozen value."""
    session = _session.get()
    return session is not None and session.replay is not None


def case_seed(seed: int) -> int:
    """The seed a check draws its random cases from: `seed` itself, or a hidden variant's while grading."""
    session = _session.get()
    return seed if session is None or session.variant == 0 else seed + VARIANT_STRIDE * session.variant


def case_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with `case_seed(seed)`: the same numbers on every machine."""
    return torch.Generator().manual_seed(case_seed(seed))


def expected(name: str, index: int, compute: Callable[[], Any]) -> Any:
    """The value case `index` of check `name` must match: `compute()` (the reference), or the frozen one.

    Self-study: `compute()`. Recording (`record`): `compute()`, kept. Grading (`grade`): the value
    recorded for this case, without running `compute`.

    Raises:
        GradingError: grading, and the recorded values were made for other cases.
    """
    session = _session.get()
    if session is None:
        return compute()
    if session.replay is None:
        value = compute()
        session.recorded.append((name, index, value))
        return value
    if session.cursor >= len(session.replay):
        raise GradingError(f"{name}: no value was recorded for case {index + 1}; regenerate the course")
    got_name, got_index, packed = session.replay[session.cursor]
    if (got_name, got_index) != (name, index):
        raise GradingError(
            f"{name}: the course recorded case {got_index + 1} of {got_name!r} here, the check asks for "
            f"case {index + 1} of {name!r}; regenerate the course with this version of reslib"
        )
    session.cursor += 1
    try:
        return _unpack(packed)  # only now: until the answer has run, the value is packed text
    except (ValueError, KeyError, TypeError) as exc:
        raise GradingError(f"{name}: case {index + 1}'s recorded value cannot be read ({exc})") from None


@contextlib.contextmanager
def _in(session: _Session) -> Iterator[_Session]:
    token = _session.set(session)
    try:
        yield session
    finally:
        _session.reset(token)


def internals() -> list[Callable[..., Any]]:
    """What an answer must not call while it is graded: what reads, records or grades the values."""
    return [expected, _unpack, _decode, record, grade]


def _check(check: str) -> Callable[[Any], Any]:
    import reslib.checks  # here: this module is imported while reslib.checks is being built

    if not isinstance(check, str):
        raise TypeError(f"check must be the name of a check as a str, got {type(check).__name__}")
    if not check.startswith("check_") or check not in reslib.checks.__all__:
        known = ", ".join(n for n in reslib.checks.__all__ if n.startswith("check_"))
        raise ValueError(f"check must name one of rl.checks' checks, got {check!r}; one of: {known}")
    return getattr(reslib.checks, check)


def _pack(value: Any) -> dict:
    if isinstance(value, tuple):
        return {"parts": [_pack(v) for v in value]}
    array = value.detach().to("cpu", torch.float64).contiguous().numpy()
    return {"shape": list(array.shape), "data": base64.b64encode(array.astype("<f8").tobytes()).decode()}


def _unpack(packed: dict) -> Any:
    import numpy as np

    if "parts" in packed:
        return tuple(_unpack(p) for p in packed["parts"])
    raw = base64.b64decode(packed["data"], validate=True)
    array = np.frombuffer(raw, dtype="<f8").reshape(packed["shape"])
    return torch.from_numpy(array.astype(np.float64))


def _encode(check: str, variant: int, values: list[tuple[str, int, Any]]) -> str:
    text = json.dumps(
        {"check": check, "variant": variant, "values": [[n, i, _pack(v)] for n, i, v in values]},
        separators=(",", ":"),
    ).encode()
    if len(text) > MAX_EXPECTED_BYTES:
        raise GradingError(f"{check}: {len(text):,} bytes of expected values, over {MAX_EXPECTED_BYTES:,}")
    return base64.b64encode(zlib.compress(text, 9)).decode()


def _decode(check: str, expected: str) -> tuple[int, list[tuple[str, int, Any]]]:
    if not isinstance(expected, str):
        raise TypeError(f"expected must be the text record() made, got {type(expected).__name__}")
    try:
        text = zlib.decompress(base64.b64decode(expected, validate=True), bufsize=MAX_EXPECTED_BYTES)
        data = json.loads(text)
        values = [(str(n), int(i), dict(v)) for n, i, v in data["values"]]  # unpacked one by one
        stored, variant = (
            data["check"],
            require_int("variant", data["variant"], minimum=1, maximum=MAX_VARIANT),
        )
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise ValueError(f"expected is not text that record() made ({exc}); regenerate the course") from None
    if stored != check:
        raise ValueError(f"expected was recorded for {stored!r}, not {check!r}; regenerate the course")
    return variant, values


@typechecked
def record(check: str, solution: Any, variant: int = 1) -> str:
    """Run `check` on `solution` with the hidden cases of `variant`; the reference's values, as text.

    Raises:
        GradingError: the solution does not pass the hidden cases (then they cannot grade).
    """
    variant = require_int("variant", variant, minimum=1, maximum=MAX_VARIANT)
    with _in(_Session(variant, None)) as session:
        result = _check(check)(solution)
    if result.passed is not True:
        raise GradingError(f"{check}: the reference solution fails variant {variant}: {result.message}")
    return _encode(check, variant, session.recorded)


@typechecked
def grade(check: str, answer: Any, expected: str) -> Any:
    """Run `check` on `answer` against the values `record` froze; the `CheckResult` if it passes.

    Raises:
        GradeFailed: the answer is not implemented, wrong, too slow, or used the reference.
        GradingError: `expected` was made for other cases (another version of the check).
    """
    function = _check(check)
    variant, values = _decode(check, expected)
    with _in(_Session(variant, values)) as session:
        result = function(answer)
    if result.passed is True and session.cursor != len(values):
        raise GradingError(
            f"{check}: the course recorded {len(values)} values, the check used {session.cursor}"
        )
    if result.passed is not True:
        raise GradeFailed(tr("{check} on the hidden cases: {message}", check=check, message=result.message))
    return result
