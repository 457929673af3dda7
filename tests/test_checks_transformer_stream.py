"""Notebook 11's new exercises: a block that is the identity when its writes are zero; the stream's growth."""

import torch
from torch import nn

import reslib as rl
from tests.helpers import load_solutions

SOLUTIONS = load_solutions("11_residual_stream")


def test_the_reference_pre_ln_block_passes_and_matches_the_librarys():
    assert rl.checks.check_identity_block(SOLUTIONS.identity_block).passed is True
    # and it is the standard pre-LN block: the library's Block gives the same outputs with its weights
    torch.manual_seed(0)
    ours = SOLUTIONS.PreLNBlock(16, 2, 40)
    theirs = rl.transformer.Block(16, 2, 40, norm_first=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(ours(x), theirs(x))


def test_a_post_ln_block_is_not_the_identity_and_hears_why():
    result = rl.checks.check_identity_block(lambda d, h, f: rl.transformer.Block(d, h, f, norm_first=False))
    assert result.passed is False
    assert "c_proj at zero" in result.message and "acts on the stream itself" in result.message


class NoSkip(nn.Module):  # the typical slip: the branches replace the stream instead of adding to it
    def __init__(self, d, h, f):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn, self.mlp = rl.attention.SelfAttention(d, h), rl.attention.FeedForward(d, f)

    def forward(self, x):
        x = self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class FinalNorm(NoSkip):  # pre-LN branches, then a norm on the stream at the end of the block
    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return self.ln_2(x + self.mlp(self.ln_2(x)))


class AttentionOnly(NoSkip):  # forgets the MLP branch: the identity when zeroed, but half a block
    def forward(self, x):
        return x + self.attn(self.ln_1(x))


class Stays(NoSkip):  # returns the stream untouched: the identity always, but it never writes
    def forward(self, x):
        return x


def test_the_typical_mistakes_fail_with_a_message_that_says_what_went_wrong():
    for wrong in (NoSkip, FinalNorm):
        result = rl.checks.check_identity_block(wrong)
        assert result.passed is False and "c_proj at zero" in result.message, wrong.__name__
    assert "MLP branch must write" in rl.checks.check_identity_block(AttentionOnly).message
    assert "attention branch must read every position" in rl.checks.check_identity_block(Stays).message
    missing = rl.checks.check_identity_block(lambda d, h, f: nn.Linear(d, d))
    assert missing.passed is False and "self.attn" in missing.message
    shape = rl.checks.check_identity_block(lambda d, h, f: rl.transformer.transformer(10, 8, 1, d, h))
    assert shape.passed is False


def test_an_untouched_exercise_is_not_implemented_yet():
    class Stub(nn.Module):
        def __init__(self, d, h, f):
            raise NotImplementedError

    assert rl.checks.check_identity_block(Stub).passed is None


def test_stream_growth_wants_linear_growth_and_measures_it():
    from reslib.checks.transformer import _stream_growth

    with rl.runtime.local_seed(0):
        measured = _stream_growth()
    assert 3.0 < measured < 4.5  # notebook 11 asserts 3-5 on its own probe
    assert rl.checks.check_stream_growth(SOLUTIONS.stream_growth).passed is True  # linear: 4x
    assert rl.checks.check_stream_growth(round(measured, 1)).passed is True
    assert rl.checks.check_stream_growth(...).passed is None  # not answered yet
    high = rl.checks.check_stream_growth(16.0)  # the typical mistake: variance compounding (4^2)
    assert high.passed is False and "too high" in high.message and f"{measured:.2f}" not in high.message
    low = rl.checks.check_stream_growth(1.0)  # "the layer norms keep the stream at unit size"
    assert low.passed is False and "too low" in low.message
    assert rl.checks.check_stream_growth(2.0).passed is False  # square-root growth: also wrong
    assert rl.checks.check_stream_growth("four").passed is False
