"""Notebook 10's checks fail wrong answers with a hint (the reference solutions pass in test_checks_core)."""

import torch

import reslib as rl
from tests.helpers import load_solutions

SOLUTIONS = load_solutions("10_why_residual_nets_train")


def test_filter_normalization_check_catches_layer_normalisation_and_kept_biases():
    def whole_tensor(weight, direction):
        return direction * weight.norm() / direction.norm()

    def keeps_biases(weight, direction):
        if weight.dim() < 2:
            return direction
        return SOLUTIONS.filter_normalization(weight, direction)

    assert rl.checks.check_filter_normalization(whole_tensor).passed is False
    result = rl.checks.check_filter_normalization(keeps_biases)
    assert result.passed is False and "case 5 of 5" in result.message


def test_rezero_check_catches_a_missing_alpha():
    result = rl.checks.check_rezero_block(lambda x, w1, w2, alpha: x + torch.relu(x @ w1.T) @ w2.T)
    assert result.passed is False and "case 1 of 4" in result.message


def test_rezero_reference_is_the_normfree_block():
    block = rl.normfree.NormFreeBlock(6, "rezero")
    with torch.no_grad():
        block.alpha.fill_(0.7)
        block.linear1.bias.zero_(), block.linear2.bias.zero_()  # as normfree_mlp initialises them
    x = torch.randn(4, 6)
    want = rl.checks.rezero_block_reference(x, block.linear1.weight, block.linear2.weight, block.alpha)
    torch.testing.assert_close(block(x), want)  # its biases start at 0


def test_width_check_catches_an_off_by_one():
    result = rl.checks.check_width_for_budget(lambda d, b, i, o: SOLUTIONS.width_for_budget(d, b, i, o) + 1)
    assert result.passed is False and "off by up to 1" in result.message
