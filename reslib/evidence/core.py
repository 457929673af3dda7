"""The claim registry and its runner (the topic modules beside this one register the claims)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable

from reslib.runtime import local_seed
from reslib.validate import typechecked

__all__ = ["CLAIMS", "Claim", "Row", "claim", "run", "table"]

KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")  # "unet-classes": a topic, then what was checked


@dataclasses.dataclass(frozen=True)
class Claim:
    """One sentence's evidence: `check()` runs the experiment, asserts the claim, returns the numbers.

    Attributes:
        key: the name the notebook's sentence cites, [evidence `key`]: a topic, then what was checked.
        says: the claim in a line, as the notebook states it.
        check: runs the experiment; raises `AssertionError` (with the measured numbers) when the claim
            fails, else returns the measured numbers as one line of text.
    """

    key: str
    says: str
    check: Callable[[], str]

    def __post_init__(self) -> None:
        _require_text(self, "key", "says")
        if not callable(self.check):
            raise TypeError(f"Claim: check must be a function that runs the experiment, got {self.check!r}")


@dataclasses.dataclass(frozen=True)
class Row:
    """One claim's outcome: whether it held, what was measured, and how long it took."""

    key: str
    says: str
    holds: bool
    measured: str
    seconds: float

    def __post_init__(self) -> None:
        _require_text(self, "key", "says", "measured")
        if not isinstance(self.holds, bool):
            raise TypeError(f"Row: holds must be True or False, got {self.holds!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)):
            raise TypeError(f"Row: seconds must be a number, got {self.seconds!r}")
        if not self.seconds >= 0:
            raise ValueError(f"Row: seconds must be >= 0, got {self.seconds!r}")


def _require_text(record: object, *fields: str) -> None:
    for field in fields:
        value = getattr(record, field)
        if not isinstance(value, str):
            raise TypeError(
                f"{type(record).__name__}: {field} must be a str, got {type(value).__name__} {value!r}"
            )


CLAIMS: dict[str, Claim] = {}


@typechecked
def claim(key: str, says: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register the decorated function as the check of the claim `key` (see `Claim`)."""
    if not KEY.fullmatch(key):
        raise ValueError(f"key={key!r}: expected lowercase words joined by '-', like 'unet-classes'")
    if key in CLAIMS:
        raise ValueError(f"key={key!r} is registered twice; give the second claim its own key")

    def register(check: Callable[[], str]) -> Callable[[], str]:
        CLAIMS[key] = Claim(key, says, check)
        return check

    return register


def _select(keys: tuple[str, ...]) -> list[Claim]:
    """The claims named by `keys` (a key, or a prefix such as 'unet'); every claim when none."""
    if not keys:
        return list(CLAIMS.values())
    chosen: list[Claim] = []
    for key in keys:
        found = [c for k, c in CLAIMS.items() if k == key or k.startswith(f"{key}-")]
        if not found:
            raise ValueError(
                f"keys: no claim is named {key!r} or starts with '{key}-'; known: {sorted(CLAIMS)}"
            )
        chosen += [c for c in found if c not in chosen]
    return chosen


@typechecked
def run(*keys: str, quiet: bool = False) -> list[Row]:
    """Run the claims named by `keys` (all when none), each from seed 0 in its own RNG state.

    A failed assert is a row that does not hold (its message is the measurement); any other error
    propagates, because it is a bug in the check, not evidence. Prints each row as it finishes
    unless `quiet`, and the caller's random state is the same afterwards.
    """
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise TypeError(f"keys: expected claim keys as strings, like 'unet-classes'; got {bad[0]!r}")
    rows = []
    for c in _select(keys):
        start = time.perf_counter()
        with local_seed(0):
            try:
                measured, holds = c.check(), True
            except AssertionError as error:
                measured, holds = f"FAILED: {error}", False
        rows.append(Row(c.key, c.says, holds, measured, time.perf_counter() - start))
        if not quiet:
            print(
                f"{'holds ' if holds else 'FAILS '} {c.key} ({rows[-1].seconds:.0f} s): {measured}",
                flush=True,
            )
    return rows


@typechecked
def table(rows: list[Row]) -> str:
    """The rows as a Markdown table: key, claim, measured, result, seconds."""
    lines = ["| key | claim | measured | result | s |", "|---|---|---|---|---|"]
    for r in rows:
        cells = (f"`{r.key}`", r.says, r.measured, "holds" if r.holds else "**FAILS**", f"{r.seconds:.0f}")
        lines.append("| " + " | ".join(" ".join(c.replace("|", "/").split()) for c in cells) + " |")
    return "\n".join(lines)
