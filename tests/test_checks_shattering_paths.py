import copy
import re

import pytest
import torch
from torch import nn

import reslib as rl
from tests.helpers import load_solutions, stub

SOL02 = load_solutions("02_shattered_gradients")
SOL03 = load_solutions("03_residual_paths")


def autocorrelation_keeps_the_mean(g):
    n = len(g)
    r = torch.stack([(g[: n - k] * g[k:]).sum() for k in range(n)])
    return r / r[0]


def lesion_deletes_the_block(model, drop):  # removes the block entirely: also fine for residual nets
    out = copy.deepcopy(model)
    out.blocks = nn.Sequential(*[b for i, b in enumerate(out.blocks) if i not in drop])
    return out


def lesion_wrong_index(model, drop):  # off by one
    out = copy.deepcopy(model)
    for i in drop:
        out.blocks[(i + 1) % len(out.blocks)] = nn.Identity()
    return out


def path_gradient_both_routes(model, x, y, active):  # forgets to cut the unused route
    h0 = model.stem(x).detach().requires_grad_(True)
    h = model.blocks(h0)
    return torch.autograd.grad(torch.nn.functional.cross_entropy(model.head(h), y), h0)[0]


def lesion_in_place(model, drop):
    for i in drop:
        model.blocks[i] = nn.Identity()
    return model


CHECKS = [
    (rl.checks.check_autocorrelation, SOL02.autocorrelation, autocorrelation_keeps_the_mean),
    (rl.checks.check_lesion, SOL03.lesion, lesion_wrong_index),
    (rl.checks.check_path_gradient, SOL03.path_gradient, path_gradient_both_routes),
]


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_reference_solution_passes(check, solution, wrong):
    result = check(solution)
    assert result.passed is True and "correct" in result.message and result.max_diff < 1e-6


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_wrong_answer_fails_with_a_hint_and_the_difference(check, solution, wrong):
    result = check(wrong)
    assert result.passed is False and re.search(r"Hint( \d of \d)?:", result.message)
    assert "off by up to" in result.message and result.max_diff > 0


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_unsolved_stub_says_not_implemented(check, solution, wrong):
    result = check(stub)
    assert result.passed is None and "not implemented yet" in result.message


def test_deleting_a_residual_block_from_the_sequence_is_the_same_lesion():
    assert rl.checks.check_lesion(lesion_deletes_the_block).passed is True


def test_a_lesion_that_changes_the_original_model_fails():
    result = rl.checks.check_lesion(lesion_in_place)
    assert result.passed is False and "deep copy" in result.message


@pytest.mark.parametrize(
    "check, solution, wrong, first, last",
    [
        (rl.checks.check_lesion, SOL03.lesion, lesion_wrong_index, "work on a copy", "nn.Identity()"),
        (
            rl.checks.check_path_gradient,
            SOL03.path_gradient,
            path_gradient_both_routes,
            ".detach()",
            "h.detach() + f",
        ),
    ],
)
def test_paths_hints_nudge_first_and_give_the_formula_only_on_the_second_try(
    check, solution, wrong, first, last
):
    assert check(solution).passed  # a pass starts the tiers again
    one, two = check(wrong).message, check(wrong).message
    assert "Hint 1 of 2" in one and first in one and last not in one
    assert "Hint 2 of 2" in two and last in two
    assert check(solution).passed


def test_a_lesion_that_returns_no_model_is_told_what_to_return():
    result = rl.checks.check_lesion(lambda model, drop: None)
    assert result.passed is False and "returned a NoneType; return the lesioned copy" in result.message
