import re

import pytest
import torch

import reslib as rl
from tests.helpers import load_solutions, stub

SOL06 = load_solutions("06_bottleneck_counts")
SOL07 = load_solutions("07_resnet")


CHECKS = [
    (
        rl.checks.check_bottleneck_parameters,
        SOL06.bottleneck_parameters,
        lambda c, p: c * p + 9 * p * p + 4 * p * p,
    ),  # conv weights only: no BN, no projection
    (
        rl.checks.check_stage_shapes,
        SOL07.stage_shapes,
        lambda s, b: [(64 * 2**i, s // 2 ** (i + 2), s // 2 ** (i + 2)) for i in range(4)],
    ),  # no expansion
    (
        rl.checks.check_cifar_parameter_count,
        SOL07.cifar_parameter_count,
        lambda d: 270_000 * (d - 2) // 18,
    ),  # a guess scaled from ResNet-20
    (
        rl.checks.check_pad_shortcut,
        SOL07.pad_shortcut,
        lambda x, out, s: torch.cat([torch.zeros_like(x), x], 1)[:, -out:, ::s, ::s],
    ),  # zeros first
]


@pytest.mark.parametrize("check, solution, wrong", CHECKS, ids=lambda c: getattr(c, "__name__", ""))
def test_check_passes_solution_fails_wrong_and_handles_stub(check, solution, wrong):
    assert check(solution).passed is True
    first, second = check(wrong), check(wrong)
    assert first.passed is False and "Hint 1 of 2" in first.message and "Try again" in first.message
    assert second.passed is False and "Hint 2 of 2" in second.message  # the fuller hint comes second
    assert check(solution).passed is True  # a pass starts the tiers again
    assert check(stub).passed is None and "not implemented" in check(stub).message


@pytest.mark.parametrize("check, solution, wrong", CHECKS, ids=lambda c: getattr(c, "__name__", ""))
def test_check_speaks_korean_and_english_again_after(check, solution, wrong):
    english = check(wrong).message
    assert check(solution).passed is True  # the hint tiers start again
    with rl.language.local_language("ko"):
        korean = check(wrong)
    assert korean.passed is False and re.search("[가-힣]", korean.message) and korean.message != english
    assert check(solution).passed is True
    assert check(wrong).message == english  # English again outside the block
    assert check(solution).passed is True


def test_checks_are_exported():
    for name in (
        "check_bottleneck_parameters",
        "check_stage_shapes",
        "check_cifar_parameter_count",
        "check_pad_shortcut",
    ):
        assert name in rl.checks.__all__
