import functools
import math

import pytest
import torch

import reslib as rl
from tests.helpers import load_solutions, stub

SOL01 = load_solutions("01_sequential_networks")


CHECKS = [
    (
        rl.checks.check_identity_init_block,
        SOL01.IdentityInitBlock,
        lambda width: rl.mlp.ResidualBlock(width, "relu", None, 1.0),
    ),  # a residual block, but its branch starts at random weights: not the identity
    (
        rl.checks.check_mlp_parameter_count,
        SOL01.mlp_parameter_count,
        lambda d, w, i, o: i * w + (d - 1) * w * w + w * o,
    ),  # forgets the biases
    (
        rl.checks.check_chain_gradient,
        SOL01.chain_gradient,
        lambda x, w1, w2, w3, wr, t: SOL01.chain_gradient(x, w1, w2, w3, 0.0, t),
    ),  # ignores the skip
    (
        rl.checks.check_residual_forward,
        SOL01.residual_forward,
        lambda branches, h: functools.reduce(lambda h, f: f(h), branches, h),
    ),  # forgets the identity: h = f(h) instead of h + f(h)
]


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_reference_solution_passes(check, solution, wrong):
    result = check(solution)
    assert result.passed is True and bool(result) and "correct" in result.message
    assert result.max_diff is not None and result.max_diff < 1e-6


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_wrong_answer_fails_with_a_hint_and_the_difference(check, solution, wrong):
    result = check(wrong)
    assert result.passed is False and "Hint" in result.message
    assert "off by up to" in result.message and result.max_diff > 0
    assert repr(result).startswith("❌")


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_unsolved_stub_says_not_implemented(check, solution, wrong):
    result = check(stub)
    assert result.passed is None and "not implemented yet" in result.message
    assert repr(result).startswith("⏳") and "not implemented" in result._repr_html_()


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_hints_come_in_tiers_a_nudge_first(check, solution, wrong):
    assert check(solution).passed  # earlier tests' wrong tries are forgotten
    first, second = check(wrong), check(wrong)
    assert "Hint 1 of 2" in first.message and "Hint 2 of 2" in second.message
    assert check(solution).passed  # a pass starts the tiers again


def test_a_correct_in_place_answer_passes_because_it_changes_only_its_own_copy():
    def in_place(branches, h):
        for f in branches:
            h += f(h)  # changes the tensor it was given: the learner's own copy of the case
        return h

    with torch.no_grad():
        assert rl.checks.check_residual_forward(in_place).passed is True


@pytest.mark.parametrize(
    "answer",
    [
        lambda layers, x: (layers.clear(), x)[1],  # empties the list, so the reference gets x back too
        lambda layers, x: (layers.append(3), x)[1],  # the reference would call the int 3
        lambda layers, x: (layers.__setitem__(slice(None), [lambda h: h]), x)[1],
    ],
)
def test_an_answer_that_changes_its_inputs_cannot_fool_the_check(answer):
    result = rl.checks.check_residual_forward(answer)  # raises nothing out of the cell either
    assert result.passed is False and "off by up to" in result.message


def test_the_residual_forward_solution_is_the_library_residual_network():
    net = rl.mlp.mlp(3, 5, 2, 2, residual=True)
    branches = [lambda h, b=block: b.linear(b.act(b.norm(h))) for block in net.blocks]
    h = net.stem(torch.randn(4, 2))
    assert torch.allclose(SOL01.residual_forward(branches, h), net.blocks(h))


def test_a_crashing_answer_is_reported_not_raised():
    result = rl.checks.check_residual_forward(lambda layers, x: layers[0](x) + undefined_name)  # noqa: F821
    assert result.passed is False and "NameError" in result.message


def test_wrong_shape_is_reported():
    result = rl.checks.check_residual_forward(lambda layers, x: x.sum())
    assert result.passed is False and "shape" in result.message


def test_non_numeric_answer_is_reported():
    result = rl.checks.check_mlp_parameter_count(lambda *a: "many")
    assert result.passed is False and "expected numbers" in result.message


def test_nan_answer_fails():
    result = rl.checks.check_chain_gradient(lambda *a: math.nan)
    assert result.passed is False


def test_compare_accepts_tensors_and_tuples():
    ok = rl.checks.compare("pair", lambda a: (a, a * 2), lambda a: (a, a * 2), [(torch.ones(3),)], hint="")
    assert ok.passed is True
