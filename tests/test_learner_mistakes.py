"""Mistakes a learner makes by accident, each reproduced as a learner would make it.

An answer that edits its inputs, a negative batch size, a slow answer, a reseeded RNG, a flag of the
wrong type, a size past memory, NaN or strings where numbers belong: each gets the behaviour stated
in its test. (Outputs that change with the thread count are a property of the notebooks: `make
test` runs nbval a second time on generic kernels with one thread, which is their test.)
"""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl
from tests.helpers import check_compose, check_count_paths


def _compose(layers, x):
    for f in layers:
        x = f(x)
    return x


# 1. A learner's answer could change the check's result by mutating its inputs.
def test_an_answer_that_mutates_its_inputs_cannot_fool_or_break_a_check():
    assert check_compose(lambda layers, x: (layers.clear(), x)[1]).passed is False
    wrong = rl.checks.check_edge_band(lambda m, w: (m.zero_(), torch.zeros(m.shape, dtype=torch.bool))[1])
    assert wrong.passed is False
    broken = check_compose(lambda layers, x: (layers.append(3), x)[1])  # used to raise
    assert broken.passed is False

    def correct_then_clears(layers, x):
        out = _compose(layers, x)
        layers.clear()  # in place, after the work: the reference has its own copy
        return out

    assert check_compose(correct_then_clears).passed is True


# 2. evaluate returned a perfect score for a negative batch_size.
def test_evaluate_refuses_a_negative_batch_size():
    data = rl.data.mnist1d()
    with pytest.raises(ValueError, match="batch_size"):
        rl.train.evaluate(rl.mlp.mlp(1, 8, 40, 10), data.x_test, data.y_test, batch_size=-1)


# 4. Checks had no time limit: the textbook recursion hung Run All.
def test_a_slow_answer_is_stopped_with_a_reason(monkeypatch):
    monkeypatch.setattr(rl.checks.core, "TIME_LIMIT", 0.3)

    def pascal(n, k):
        return 1 if k in (0, n) else pascal(n - 1, k - 1) + pascal(n - 1, k)

    start = time.perf_counter()
    result = check_count_paths(pascal)
    assert time.perf_counter() - start < 3.0
    assert result.passed is False and "math.comb" in result.message


# 5. Checks and data loading reseeded global generators, overriding the learner's seed.
def test_checks_and_data_leave_the_learners_seeds_alone():
    def stub(layers, x):
        raise NotImplementedError

    rl.set_seed(0)
    check_compose(stub)
    a = torch.randn(2)
    rl.set_seed(999)
    check_compose(stub)
    b = torch.randn(2)
    assert not torch.equal(a, b)
    random.seed(0)
    rl.data.mnist1d(num_samples=130, seed=5)  # a size no other test uses: generated, not cached
    assert random.random() == pytest.approx(0.8444218515250481)  # what random.seed(0) gives


# 6. mnist1d handed out the same cached tensors on every call.
def test_an_in_place_edit_does_not_reach_the_next_call():
    d = rl.data.mnist1d()
    d.x_train.mul_(0)
    assert rl.data.mnist1d().x_train.abs().sum() > 0


# 7. No flag argument was validated.
@pytest.mark.parametrize(
    "call",
    [
        lambda: rl.mlp.mlp(2, 8, 4, 3, residual="no"),
        lambda: rl.resnet.cifar_resnet(8, plain="no"),
        lambda: rl.blocks.BasicBlock(4, 4, dim=True),
        lambda: rl.costs.conv_cost(3, 64, 64, dim=2.0),
        lambda: rl.costs.stage_costs(rl.blocks.BasicBlock, [2, 2, 2, 2], num_classes="4"),
    ],
)
def test_a_flag_or_count_of_the_wrong_type_is_a_type_error(call):
    with pytest.raises(TypeError, match="must be"):
        call()


# 8. Some calls allocated large amounts of memory with no bound or warning.
def test_memory_is_bounded_before_it_is_allocated():
    rl.variance.variance_profile(1, width=1024)  # retained 827 MB before
    weights = rl.variance._draw  # the module's byte-bounded cache
    assert weights.cache_bytes() <= 64 * 2**20
    with pytest.raises(ValueError, match="MiB"):
        rl.variance.variance_profile(1, width=2**15)
    with pytest.raises(ValueError, match="MiB"):
        rl.paths.unravel([nn.Linear(100, 100, bias=False)] * 16, torch.randn(100, 100))
    terms = rl.paths.unravel([nn.Linear(100, 100, bias=False)] * 4, torch.randn(100, 100))
    assert not any(t.requires_grad for t in terms.values()), "no autograd graph is kept per path"
    start = time.perf_counter()
    with pytest.raises(ValueError, match="num_samples"):
        rl.data.mnist1d(num_samples=10**7)  # hung before
    assert time.perf_counter() - start < 1.0


# 9. Checks mishandled some answer types; compare took invalid tolerances and empty case lists.
def test_answers_and_compare_arguments_are_read_strictly():
    def numpy_autocorrelation(g):  # returns a NumPy array
        c = g.numpy() - g.numpy().mean()
        r = np.array([(c[: len(c) - k] * c[k:]).sum() for k in range(len(c))])
        return r / r[0]

    assert rl.checks.check_autocorrelation(numpy_autocorrelation).passed is True
    assert check_count_paths(lambda n, k: str(math.comb(n, k))).passed is False
    with pytest.raises(ValueError, match="atol"):
        rl.checks.compare("x", lambda a: a + 1, lambda a: a, [(1.0,)], "h", atol=float("nan"))
    with pytest.raises(ValueError, match="at least one case"):
        rl.checks.compare("x", lambda a: a, lambda a: a, [], "h")

    def shouts(*args):
        raise ValueError("<b>bold</b> got <class 'int'>")

    html = check_count_paths(shouts)._repr_html_()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


# 10. A third of bad inputs gave unclear errors, and the same mistake raised different types.
def test_common_mistakes_get_the_same_clear_errors():
    data = rl.data.mnist1d()  # on reslib.device(): the GPU where there is one
    model = rl.mlp.mlp(2, 8, 40, 10).to(data.x_test.device)
    with pytest.raises(TypeError, match="x holds torch.float64"):
        rl.train.evaluate(model, data.x_test.double(), data.y_test)
    with pytest.raises(TypeError, match="y must hold integer labels"):
        rl.train.evaluate(model, data.x_test, data.y_test.float())
    with pytest.raises(ValueError, match="class indices up to 10"):
        rl.train.evaluate(model, data.x_test, torch.full_like(data.y_test, 10))
    with pytest.raises(ValueError, match="use model.to"):
        rl.train.evaluate(model.to("meta"), data.x_test, data.y_test)  # a model on another device
    model = rl.mlp.mlp(2, 8, 40, 10).to(data.x_test.device)
    with pytest.raises(TypeError, match="seed must be an int"):
        rl.train.fit(model, data, 1, 0.1, seed=2.5, progress=False)
    with pytest.raises(TypeError, match="the class, not an instance"):
        rl.blocks.BasicBlock(4, 4, norm_layer=nn.BatchNorm2d(4))
    for kwargs in (dict(num_samples=20.0), dict(seed=2.5), dict(seed=np.float64(3))):
        with pytest.raises(TypeError, match="must be an int"):  # one type for one mistake
            rl.data.mnist1d(**kwargs)
    with pytest.raises(TypeError, match="must be an int"):
        rl.unet.unet_shape_trace(572, depth=4.0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no cuda device"):
            rl.data.mnist1d(device="cuda")
    with pytest.raises(ValueError, match="device"):
        rl.data.mnist1d(device="gpu")
