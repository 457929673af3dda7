"""Notebook 03, Exercise 1 (issue 23): predict what a lesion leaves of the paths, checked on a real net."""

import math

import pytest

import reslib as rl
from reslib.checks.paths import _lesion_paths_measured
from tests.helpers import load_solutions

SOL03 = load_solutions("03_residual_paths")


def test_the_measurement_counts_the_paths_of_the_blocks_left():
    assert _lesion_paths_measured() == [2**10, math.comb(10, 6)]


def test_the_right_prediction_passes():
    result = rl.checks.check_lesion_paths(SOL03.lesion_paths)
    assert result.passed is True and "agrees with your prediction" in result.message
    assert rl.checks.check_lesion_paths((1024.0, 210.0)).passed is True  # floats, a tuple


@pytest.mark.parametrize(
    "answer, mistake",
    [
        ([2048, 462], "one block deleted: half of the paths"),
        ([1024, 231], "a quarter of the 924 paths of length 6: every length thinned alike"),
        ([0, 0], "2 x 2048 paths subtracted from 4096: the paths through both blocks counted twice"),
        ([4096 - 2 * 2048 + 1024, 924 - 2 * 462], "length 6: the paths through both blocks not added back"),
        ([1024, 252], "C(10, 5): the length of the paths counted in the 10 blocks, minus one"),
    ],
)
def test_typical_mistakes_fail_with_a_hint_and_without_the_answer(answer, mistake):
    result = rl.checks.check_lesion_paths(answer)
    assert result.passed is False, mistake
    assert "Hint" in result.message and "1024" not in result.message and "210" not in result.message


def test_the_second_hint_names_the_blocks_left_the_first_does_not():
    assert rl.checks.check_lesion_paths(SOL03.lesion_paths).passed  # a pass starts the tiers again
    one, two = (rl.checks.check_lesion_paths([2048, 462]).message for _ in range(2))
    assert "Hint 1 of 2" in one and "set of blocks" in one and "2^10" not in one
    assert "Hint 2 of 2" in two and "2^10" in two and "C(10, 6)" in two


@pytest.mark.parametrize("answer", [..., None, [..., ...], [1024, ...], (None, 210)])
def test_an_unanswered_prediction_is_not_marked_wrong(answer):
    result = rl.checks.check_lesion_paths(answer)
    assert result.passed is None and "not answered yet" in result.message


@pytest.mark.parametrize("answer", ["1024, 210", [1024, 210, 0], 1024])
def test_an_answer_of_the_wrong_form_is_told_what_to_give(answer):
    result = rl.checks.check_lesion_paths(answer)
    assert result.passed is False and "Hint" in result.message


def test_the_korean_edition_says_it_in_korean_and_english_comes_back():
    assert rl.checks.check_lesion_paths(SOL03.lesion_paths).passed  # the tiers start again
    with rl.language.local_language("ko"):
        one, two = (rl.checks.check_lesion_paths([2048, 462]).message for _ in range(2))
        right = rl.checks.check_lesion_paths(SOL03.lesion_paths).message
    assert "펼친 관점" in one and "2^10" not in one and "1024" not in one and "210" not in one
    assert "2^10" in two and "C(10, 6)" in two and "블록 10개" in two
    assert "블록 12개짜리" in right
    assert "agrees with your prediction" in rl.checks.check_lesion_paths(SOL03.lesion_paths).message
