"""`check_identity_init_block` (notebook 01, Exercise 1): x + f(x), the identity at init, that learns."""

import pytest
import torch
from torch import nn

import reslib as rl
from tests.helpers import load_solutions, stub

SOL01 = load_solutions("01_sequential_networks")
check = rl.checks.check_identity_init_block


class _Branch(nn.Module):
    """Linear -> ReLU -> Linear, width -> width, PyTorch's initialisation: the base of the mistakes."""

    def __init__(self, width):
        super().__init__()
        self.branch = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x):
        return x + self.branch(x)


class _ReZero(_Branch):
    """Another right answer: a random branch times a learned scale that starts at 0 (ReZero, SkipInit)."""

    def __init__(self, width):
        super().__init__(width)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.alpha * self.branch(x)


class _NoSkip(SOL01.IdentityInitBlock):
    def forward(self, x):
        return self.branch(x)  # forgets the identity: outputs 0 at init


class _AllZero(_Branch):
    def __init__(self, width):
        super().__init__(width)
        for p in self.parameters():  # zeroes every layer, not just the last
            nn.init.zeros_(p)


class _PlainList(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.layers = [nn.Linear(width, width)]  # a Python list: nn.Module does not see these
        nn.init.zeros_(self.layers[0].weight)
        nn.init.zeros_(self.layers[0].bias)

    def forward(self, x):
        return x + self.layers[0](x)


class _InPlace(SOL01.IdentityInitBlock):
    def forward(self, x):
        x += self.branch(x)  # writes into the caller's tensor
        return x


class _Width64(SOL01.IdentityInitBlock):
    def __init__(self, width):
        super().__init__(64)  # the width of section 2, hard-coded


class _BranchUnused(SOL01.IdentityInitBlock):
    def forward(self, x):
        return x.clone()  # the identity, but with nothing that can learn


def test_the_reference_solution_and_another_right_design_pass():
    for answer in (SOL01.IdentityInitBlock, SOL01.identity_init_block, _ReZero):
        result = check(answer)
        assert result.passed is True and result.max_diff == 0.0, result.message


def test_the_solution_is_exactly_the_identity_and_learns():
    block = SOL01.IdentityInitBlock(8)
    x = torch.randn(5, 8)
    assert torch.equal(block(x), x)
    optimiser = torch.optim.SGD(block.parameters(), lr=0.1)
    ((block(x) - 2 * x) ** 2).mean().backward()
    optimiser.step()
    assert not torch.allclose(block(x), x)


def test_the_unsolved_stub_says_not_implemented():
    assert check(stub).passed is None


@pytest.mark.parametrize(
    "wrong, says",
    [
        (_NoSkip, "off by up to"),  # a wrong answer: the value at init is compared with x
        (_Branch, "off by up to"),  # no zero initialisation: not the identity
        (_AllZero, "cannot learn"),  # the typical mistake: the identity, but stuck there
        (_PlainList, "no trainable parameters"),
        (lambda width: nn.Identity(), "no trainable parameters"),
        (_InPlace, "in place"),
        (_Width64, "RuntimeError"),
        (_BranchUnused, "never used"),
        (lambda width: 3, "not an nn.Module"),
    ],
)
def test_mistakes_fail_with_their_reason_and_a_hint(wrong, says):
    result = check(wrong)
    assert result.passed is False and says in result.message and "Hint" in result.message


def test_the_all_zero_branch_really_cannot_learn_a_function_of_x():
    block = _AllZero(4)
    x = torch.randn(6, 4)
    optimiser = torch.optim.SGD(block.parameters(), lr=0.1)
    ((block(x) - torch.tanh(3 * x)) ** 2).mean().backward()
    optimiser.step()
    with torch.no_grad():
        added = block(x) - x
    assert torch.allclose(added, added[:1].expand_as(added))  # only the last bias moved: a constant


def test_the_check_works_under_no_grad_and_leaves_the_rng_alone():
    torch.manual_seed(5)
    state = torch.get_rng_state()
    with torch.no_grad():
        assert check(SOL01.IdentityInitBlock).passed is True
    assert torch.equal(state, torch.get_rng_state())


def test_a_non_callable_names_the_argument():
    with pytest.raises(TypeError, match="cls"):
        check("IdentityInitBlock")
