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
