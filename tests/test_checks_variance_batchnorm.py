import pytest
import torch

import reslib as rl
from tests.helpers import load_solutions, stub

SOL04 = load_solutions("04_forward_variance")
SOL05 = load_solutions("05_batch_norm_math")


def unbiased_forward(x, gamma, beta, eps):
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    x_hat = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def backward_without_mean_and_var_terms(dy, x, gamma, eps):
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    std = torch.sqrt(x.var(dims, unbiased=False, keepdim=True) + eps)
    _, dgamma, dbeta = SOL05.bn_backward(dy, x, gamma, eps)
    return dy * gamma.reshape(shape) / std, dgamma, dbeta


def fold_forgetting_the_mean(conv, bn):
    fused = SOL05.fold_bn(conv, bn)
    with torch.no_grad():
        fused.bias.copy_(bn.bias)
    return fused


class BNAfterReLU(torch.nn.Module):
    """A common slip: the ReLU before the batch norm."""

    def __init__(self, width):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(width)
        self.linear = torch.nn.Linear(width, width)

    def forward(self, x):
        return x + self.linear(self.norm(torch.relu(x)))


CHECKS = [
    (
        rl.checks.check_second_moment_recursion,
        SOL04.second_moment_recursion,
        lambda d, g, s, bn: [s ** (2 * k) * 2.0**k for k in range(d + 1)],
    ),  # "doubles" always
    (rl.checks.check_batch_norm_forward, SOL05.bn_forward, unbiased_forward),
    (rl.checks.check_batch_norm_backward, SOL05.bn_backward, backward_without_mean_and_var_terms),
    (rl.checks.check_fold_into_conv, SOL05.fold_bn, fold_forgetting_the_mean),
    (rl.checks.check_bn_residual_block, SOL05.BNResidualBlock, BNAfterReLU),
]


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_reference_solution_passes(check, solution, wrong):
    result = check(solution)
    assert result.passed is True and "correct" in result.message and result.max_diff < 1e-5


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_wrong_answer_fails_with_a_hint(check, solution, wrong):
    result = check(wrong)
    assert result.passed is False and "Hint" in result.message and result.max_diff > 0


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_first_hint_is_a_nudge_and_the_formula_comes_second(check, solution, wrong):
    check(solution)  # a pass resets the tiers
    first, second = check(wrong), check(wrong)
    assert "Hint 1 of 2" in first.message and "Hint 2 of 2" in second.message
    check(solution)


@pytest.mark.parametrize("check, solution, wrong", CHECKS)
def test_stub_says_not_implemented(check, solution, wrong):
    assert check(stub).passed is None


def test_forward_check_accepts_y_and_cache():
    solution = load_solutions("05_batch_norm_math").bn_forward
    assert rl.checks.check_batch_norm_forward(lambda *a: (solution(*a), {"mean": None})).passed is True


def test_fold_check_reports_a_non_module():
    result = rl.checks.check_fold_into_conv(lambda conv, bn: 3)
    assert result.passed is False and "nn.Conv2d" in result.message


def test_bn_block_check_explains_a_non_module_and_wrong_layer_names():
    rl.checks.check_bn_residual_block(SOL05.BNResidualBlock)
    assert "nn.Module" in rl.checks.check_bn_residual_block(lambda width: "block").message

    class Named(torch.nn.Module):
        def __init__(self, width):
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(width)
            self.fc = torch.nn.Linear(width, width)

    result = rl.checks.check_bn_residual_block(Named)
    assert result.passed is False and "norm" in result.message


def test_a_correct_backward_that_scales_dy_in_place_passes():
    def in_place(dy, x, gamma, eps):
        dy.mul_(2.0)  # changes the learner's own copy of dy, never the reference's
        return tuple(g / 2 for g in SOL05.bn_backward(dy, x, gamma, eps))

    assert rl.checks.check_batch_norm_backward(in_place).passed is True


def test_a_fold_that_breaks_the_given_bn_cannot_break_the_reference():
    def breaks_bn(conv, bn):
        del bn.running_var  # the reference gets its own, intact, copy
        return conv

    result = rl.checks.check_fold_into_conv(breaks_bn)
    assert result.passed is False and "off by up to" in result.message
