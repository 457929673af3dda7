"""Every exercise check, at once: it has a reference solution, and it never moves the notebook's RNG."""

import pytest
import torch

import reslib as rl
from tests.helpers import ROOT, load_solutions, stub

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
    before = torch.get_rng_state()
    getattr(rl.checks, check)(stub if answer == "stub" else _solution(check))
    assert torch.equal(torch.get_rng_state(), before), f"{check} reseeded or drew from the global RNG"


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
