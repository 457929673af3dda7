"""The protocol every exercise check follows.

Each `check_*` runs the learner's function on a few cases, compares it with a
reference, and returns a `CheckResult` that a notebook cell displays:
"not implemented yet" for an untouched stub (so Run All never crashes), a
hint and the largest difference for a wrong answer, a green tick otherwise.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

# The protocol a notebook sees, re-exported as rl.checks.*. `local_seed` below is public but
# not listed: it is a tool for the check modules, not something a learner calls.
__all__ = [
    "CheckResult",
    "compare",
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
        return f'<p style="color:{colour}; font-weight:600">{self!r}</p>'


@contextlib.contextmanager
def local_seed(seed: int) -> Iterator[None]:
    """Seed the CPU RNG for the block only, then give the caller's RNG state back.

    A check builds its cases inside this block (modules initialise their weights from
    the global RNG), so calling a check never changes what the notebook's next
    `torch.rand` returns. Unlike `torch.manual_seed`, it leaves the CUDA RNGs alone.
    """
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield


# Wrong answers so far, per check name: the hint deepens with each failed try (a nudge first,
# the formula only after a second failure). The only state a check keeps; a pass resets it.
_failures: Counter[str] = Counter()


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


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, (tuple, list)):
        return torch.cat([_as_tensor(v).reshape(-1) for v in value])
    return torch.tensor(float(value), dtype=torch.float64)


def compare(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    hint: str | Sequence[str],
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> CheckResult:
    """Run `fn(*case)` and `reference(*case)` for every case and compare the results.

    Results may be numbers, tensors, or tuples/lists of them; they are compared
    element-wise as float64 with `|a - b| <= atol + rtol * |b|`. `hint` is one string or
    tiers from a nudge to the formula; each wrong answer shows the next tier (`tiered_hint`).
    """
    worst = 0.0
    for i, case in enumerate(cases):
        try:
            got = fn(*case)
        except NotImplementedError:
            return CheckResult(
                name,
                None,
                "not implemented yet: replace the "
                "`raise NotImplementedError` with your code, then run this cell again.",
            )
        except Exception as exc:  # a learner's bug is feedback, not a crash
            return CheckResult(name, False, f"raised {type(exc).__name__}: {exc}. {tiered_hint(name, hint)}")
        with local_seed(0):  # a reference that builds a model must not move the notebook's RNG
            want = _as_tensor(reference(*case))
        try:
            got_t = _as_tensor(got)
        except (TypeError, ValueError, RuntimeError):
            return CheckResult(
                name,
                False,
                f"returned a {type(got).__name__}, expected numbers or tensors. {tiered_hint(name, hint)}",
            )
        if got_t.shape != want.shape:
            return CheckResult(
                name,
                False,
                f"case {i + 1}: shape {tuple(got_t.shape)}, expected {tuple(want.shape)}. "
                f"{tiered_hint(name, hint)}",
            )
        diff = (got_t - want).abs()
        max_diff = diff.max().item() if diff.numel() else 0.0
        if not math.isfinite(max_diff) or bool((diff > atol + rtol * want.abs()).any()):
            return CheckResult(
                name,
                False,
                f"case {i + 1} of {len(cases)} is off by up to {max_diff:.3g}. {tiered_hint(name, hint)}",
                max_diff,
            )
        worst = max(worst, max_diff)
    _failures.pop(name, None)
    return CheckResult(name, True, f"correct on all {len(cases)} cases (max difference {worst:.1e})", worst)
