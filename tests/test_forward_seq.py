"""Issue 25 for the MLP, transformer, path and sequence modules: every forward checks its input,
long calls are refused before they start, NaN and out-of-range values are refused at the boundary,
records check their fields, public tables are read-only, seeds take the whole range torch takes."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

import reslib as rl
from reslib import guard
from reslib.batchnorm import BatchNorm1d, BatchNorm2d, BatchNormCache, RunningStatsTrace
from reslib.mlp import MLP, PlainLayer, ResidualBlock, mlp
from reslib.normfree import NormFreeBlock
from reslib.paths import RandomSkip, ShortPathTraining
from reslib.sequences import SequenceData, SequenceRun
from reslib.shattering import ShatteringResult
from reslib.stacking import GroupedBatchNorm, GroupedLinear
from reslib.transformer import Block, transformer

# --- forward: every module checks its input first ---------------------------------------------


def _float_modules():
    """(module, a good input, the layout's dimensions, the size it was built for) for every forward."""
    return [
        (PlainLayer(4, 6, "relu", "batch"), torch.randn(3, 4)),
        (ResidualBlock(4, "relu", "batch", 1.0), torch.randn(3, 4)),
        (mlp(2, 6, 4, 3), torch.randn(3, 4)),
        (mlp(2, 6, 4, 3, residual=True, norm="layer"), torch.randn(3, 4)),
        (rl.shattering.shattering_net(2, residual=False, width=6), torch.randn(3, 1)),
        (NormFreeBlock(4, "fixup"), torch.randn(3, 4)),
        (BatchNorm1d(4), torch.randn(3, 4)),
        (BatchNorm2d(4), torch.randn(3, 4, 2, 2)),
        (rl.attention.SelfAttention(8, 2), torch.randn(2, 5, 8)),
        (rl.attention.FeedForward(8, 16), torch.randn(2, 5, 8)),
        (Block(8, 2), torch.randn(2, 5, 8)),
        (RandomSkip(ResidualBlock(4, "relu", None, 1.0), 0.5), torch.randn(3, 4)),
        (ShortPathTraining(mlp(3, 6, 4, 3, residual=True), 1), torch.randn(3, 4)),
        (GroupedLinear(torch.randn(2, 3, 4), torch.randn(2, 3)), torch.randn(2, 5, 4)),
        (
            GroupedBatchNorm(
                torch.ones(2, 4),
                torch.zeros(2, 4),
                torch.zeros(2, 4),
                torch.ones(2, 4),
                torch.zeros(2, dtype=torch.long),
            ),
            torch.randn(2, 5, 4),
        ),
    ]


@pytest.mark.parametrize("module, x", _float_modules(), ids=[type(m).__name__ for m, _ in _float_modules()])
def test_every_forward_names_the_module_and_the_fix(module, x):
    name = type(module).__name__
    module(x)  # the good input runs
    with pytest.raises(TypeError, match=rf"{name}.forward: x must be a torch.Tensor, got list"):
        module(x.tolist())
    with pytest.raises(TypeError, match=rf"{name}.forward: x must be a floating-point tensor.*x.float\(\)"):
        module(x.long())
    with pytest.raises(TypeError, match=rf"{name}.forward: x has dtype torch.float64.*call x.float\(\)"):
        module(x.double())
    with pytest.raises(ValueError, match=rf"{name}.forward: x must have .*dimensions.*got shape"):
        module(x.view((1, 1, 1, 1) + x.shape))
    # (RandomSkip: the size of the linear map its block starts with)
    with pytest.raises(ValueError, match=rf"{name}.forward: x must have size"):
        module(torch.cat([x, x], dim=1 if isinstance(module, BatchNorm2d) else -1))


def test_a_float64_model_takes_float64_and_refuses_float32():
    net = mlp(2, 6, 4, 3, residual=True).double()
    net(torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"MLP's weights are torch.float64; call x.double\(\)"):
        net(torch.randn(3, 4))


def test_hidden_states_checks_its_input_too():
    with pytest.raises(ValueError, match=r"MLP.forward: x must have size 4 in dimension 1"):
        mlp(2, 6, 4, 3).hidden_states(torch.randn(3, 5))


def test_a_missing_batch_axis_gets_the_fix():
    with pytest.raises(ValueError, match=r"add the batch axis with x\[None\]"):
        mlp(2, 6, 4, 3)(torch.randn(4))


def test_the_transformer_takes_integer_token_ids():
    net = transformer(10, 8, 1, 8, 2)
    idx = torch.randint(10, (2, 5))
    assert net(idx).shape == (2, 5, 10)
    with pytest.raises(
        TypeError, match=r"Transformer.forward: idx must hold integer token ids.*idx.long\(\)"
    ):
        net(idx.float())
    with pytest.raises(TypeError, match=r"Transformer.forward: idx must be a torch.Tensor of token ids"):
        net(idx.tolist())
    with pytest.raises(ValueError, match=r"idx must have 2 dimensions \(B, T\).*idx\[None\]"):
        net(idx[0])
    with pytest.raises(ValueError, match=r"longer than the 8 positions"):
        net(torch.randint(10, (2, 9)))
    with pytest.raises(ValueError, match=r"tokens in \[0, 9\].*got values in \[0, 10\]"):
        net(idx.clamp(max=9).index_fill(1, torch.tensor([0]), 10))
    with pytest.raises(ValueError, match=r"tokens in \[0, 9\]"):
        net.streams(idx - 1)
    with pytest.raises(ValueError, match=r"Transformer.forward: x must have size 8"):
        net.unembed(torch.randn(2, 5, 9))


def test_the_stacked_training_paths_still_run():
    """vmap over stacked copies (train.fit's `_Stacked`, train_sequence_models) and grouped MLPs."""
    nets = [mlp(2, 6, 4, 3, residual=True, norm="batch") for _ in range(2)]
    params, buffers = stack_module_state(nets)
    base = mlp(2, 6, 4, 3, residual=True, norm="batch").to("meta")
    out = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), randomness="different")(
        params, buffers, torch.randn(2, 5, 4)
    )
    assert out.shape == (2, 5, 3)
    grouped, _, _ = rl.stacking.grouped(nets)
    assert grouped(torch.randn(2, 5, 4)).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="one row per model"):
        grouped(torch.randn(3, 5, 4))
    tf = [transformer(10, 8, 1, 8, 2) for _ in range(2)]
    p, b = stack_module_state(tf)
    meta = transformer(10, 8, 1, 8, 2).to("meta")
    logits = vmap(lambda p, b, x: functional_call(meta, (p, b), (x,)))(p, b, torch.randint(10, (2, 3, 5)))
    assert logits.shape == (2, 3, 5, 10)


def test_meta_tensors_pass_the_checks():
    assert rl.runtime.step_flops(mlp(2, 6, 4, 3, residual=True), torch.zeros(5, 4)) > 0
    assert rl.runtime.step_flops(transformer(10, 8, 1, 8, 2), torch.zeros(2, 5, dtype=torch.long)) > 0


# --- time: refused before it starts -------------------------------------------------------------


class _Stop(Exception):
    pass


def _estimate(monkeypatch, module, call):
    """The seconds `call` estimates for itself, stopped before it runs."""
    seen = []

    def spy(given, flops=0.0, operations=0.0, limit=guard.WORK_LIMIT):
        seen.append(guard.require_work(given, flops, operations, limit))
        raise _Stop

    monkeypatch.setattr(module, "require_work", spy)
    with pytest.raises(_Stop):
        call()
    return seen[0]


def test_train_sequence_models_refuses_a_million_steps(monkeypatch):
    data = rl.sequences.sequence_task(64, 32, device="cpu")
    with pytest.raises(
        ValueError, match=r"steps=1000000, models=1, batch_size=32 would run for about .* min"
    ):
        rl.sequences.train_sequence_models([transformer(10, 8, 1, 8, 2)], data, 10**6, 1e-3)
    # notebook 11's largest call: 6 models of 12 blocks, 150 steps (9.6 s measured)
    big = rl.sequences.sequence_task(2000, 500, device="cpu")
    models = [transformer(10, 8, 12, 32, 2, d_ff=64) for _ in range(6)]
    call = lambda: rl.sequences.train_sequence_models(models, big, 150, 3e-3, warmup=[0, 40] * 3)
    assert 3 < _estimate(monkeypatch, rl.sequences, call) < guard.WORK_LIMIT / 3


def test_shattering_refuses_what_would_run_for_minutes(monkeypatch):
    with pytest.raises(ValueError, match=r"depth=100, width=1600, n_inputs=800 would run for about"):
        rl.shattering.shattering(100, True, width=1600, n_inputs=800)  # within the memory bound
    with pytest.raises(ValueError, match=r"depth must be an int in \[1, 1000\]"):
        rl.shattering.shattering(10_000, True)
    with pytest.raises(
        ValueError,
        match=r"max_depth=1000, width=200, n_inputs=256, seeds=\(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\) would run",
    ):
        rl.shattering.lag1_by_depth(1000, True, seeds=tuple(range(10)))
    # notebook 02's largest calls
    assert _estimate(monkeypatch, rl.shattering, lambda: rl.shattering.shattering(50, True)) < 1
    assert _estimate(monkeypatch, rl.shattering, lambda: rl.shattering.lag1_by_depth(50, True)) < 3


def test_path_gradient_magnitude_refuses_a_thousand_samples_of_a_large_net(monkeypatch):
    net = mlp(12, 64, 40, 10, residual=True, norm="batch")
    x, y = torch.randn(256, 40), torch.randint(10, (256,))
    with pytest.raises(
        ValueError,
        match=r"samples=1000, lengths=None, model='12 blocks', x='256 examples' would run for about",
    ):
        rl.paths.path_gradient_magnitude(net, x, y, samples=1_000)
    # the range: 10,000 draws of even the smallest net took 10 s
    with pytest.raises(ValueError, match=r"samples must be an int in \[1, 1000\], got 1001"):
        rl.paths.path_gradient_magnitude(net, x, y, samples=1_001)
    call = lambda: rl.paths.path_gradient_magnitude(net, x, y, samples=10)
    assert _estimate(monkeypatch, rl.paths, call) < guard.WORK_LIMIT / 10


def test_the_other_loops_are_bounded(monkeypatch):
    # the memory bound comes first: the longest trace it lets through is estimated at ~10 s
    long = lambda: rl.batchnorm.running_stats_trace(2, 0.1, steps=16 * 10**6)
    assert 3 < _estimate(monkeypatch, rl.batchnorm, long) < guard.WORK_LIMIT
    with pytest.raises(ValueError, match=r"depth=5000000, width=1, n_samples=2 would run"):
        rl.variance.forward_backward_profile(5 * 10**6, width=1, n_samples=2)
    with pytest.raises(ValueError, match=r"depth=20000, n_inputs=1, width=4096 would run"):
        rl.euler.euler_trajectory(20_000, n_inputs=1, width=4096)
    net = mlp(20, 256, 40, 10, residual=True)
    with pytest.raises(ValueError, match=r"grid='40401 points', x='2000 examples' would run"):
        rl.landscape.loss_slice_2d(net, (torch.randn(2000, 40), torch.randint(10, (2000,))), steps=201)
    probe = (torch.randn(500, 40), torch.randint(10, (500,)))
    call = lambda: rl.landscape.loss_slice_2d(mlp(20, 32, 40, 10), probe, steps=21)
    assert _estimate(monkeypatch, rl.landscape, call) < guard.WORK_LIMIT / 3
    call = lambda: rl.batchnorm.running_stats_trace(16, 0.1)
    assert _estimate(monkeypatch, rl.batchnorm, call) < 1


@pytest.mark.parametrize(
    "build",
    [
        lambda: mlp(1000, 64, 40, 10, residual=True, norm="batch"),
        lambda: rl.shattering.shattering_net(1000, True),
        lambda: transformer(10, 8, 1000, 32, 2),
        lambda: rl.normfree.normfree_mlp(1000, 32, 40, 10, "fixup"),
    ],
)
def test_builders_at_max_blocks_build_in_seconds(build):
    import time

    start = time.perf_counter()
    build()
    assert time.perf_counter() - start < 10  # about 1 s on 2 cores; generous under load


# --- NaN and out-of-range values ----------------------------------------------------------------


def test_freeze_batch_stats_refuses_nan_and_keeps_the_statistics():
    net = rl.shattering.shattering_net(3, residual=True, width=8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.linspace(-2, 2, 16).unsqueeze(1)
    with pytest.raises(ValueError, match="x .*NaN"):
        rl.shattering.freeze_batch_stats(net, x.index_fill(0, torch.tensor([3]), math.nan))
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_sequence_accuracy_refuses_labels_the_model_cannot_output():
    data = rl.sequences.sequence_task(16, 8, device="cpu")
    net = transformer(10, 8, 1, 8, 2)
    assert 0 <= rl.sequences.sequence_accuracy(net, data.x_test, data.y_test) <= 1
    with pytest.raises(ValueError, match=r"y must hold values in \[0, 9\].*got values in \[1000000, "):
        rl.sequences.sequence_accuracy(net, data.x_test, data.y_test + 10**6)
    with pytest.raises(ValueError, match=r"x must hold values in \[0, 9\]"):
        rl.sequences.sequence_accuracy(net, data.x_test - 1, data.y_test)
    assert net.training  # the mode is restored after a refusal too
    with torch.no_grad():
        net.lm_head.bias.fill_(math.nan)
    with pytest.raises(ValueError, match="NaN or inf logits"):
        rl.sequences.sequence_accuracy(net, data.x_test, data.y_test)


def test_gradient_flow_names_what_the_learner_passed():
    x = torch.randn(16, 40)
    y = torch.randint(10, (16,))
    with pytest.raises(ValueError, match=r"y must hold class indices in \[0, 9999\].*\[-1, "):
        rl.gradients.gradient_flow(3, "relu", x, y - 1)
    with pytest.raises(ValueError, match=r"y must hold class indices"):
        rl.gradients.gradient_flow(3, "relu", x, y + 10**6)
    with pytest.raises(ValueError, match=r"x .*NaN"):
        rl.gradients.gradient_flow(3, "relu", x.index_fill(0, torch.tensor([0]), math.nan), y)
    with pytest.raises(ValueError, match=r"x must be a batch of vectors \(N, D\)"):
        rl.gradients.gradient_flow(3, "relu", x.view(16, 4, 10), y)
    with pytest.raises(ValueError, match=r"depth=3, width=100000,.*would allocate"):
        rl.gradients.gradient_flow(3, "relu", x, y, width=100_000)
    flow = rl.gradients.gradient_flow(3, "relu", x.double(), y)  # float64 x: a float64 network
    assert np.all(np.isfinite(flow.norms))


# --- records check their fields -----------------------------------------------------------------


def _tokens(n=4, t=5, v=10):
    return torch.randint(v, (n, t))


def test_sequence_data_checks_its_fields():
    x, y = _tokens(), _tokens()
    SequenceData(x, y, x, y, 10, "sort")
    with pytest.raises(ValueError, match=r"y_train must hold values in \[0, 9\]"):
        SequenceData(x, y + 10, x, y, 10, "sort")
    with pytest.raises(TypeError, match="x_test must be a torch.Tensor"):
        SequenceData(x, y, None, y, 10, "sort")
    with pytest.raises(TypeError, match="x_train must hold integer"):
        SequenceData(x.float(), y, x, y, 10, "sort")
    with pytest.raises(ValueError, match=r"x_train \(4, 5\) and y_train \(4, 4\) must have the same shape"):
        SequenceData(x, y[:, :4], x, y, 10, "sort")
    with pytest.raises(ValueError, match="task must be one of"):
        SequenceData(x, y, x, y, 10, "shuffle")
    with pytest.raises(ValueError, match="vocab_size"):
        SequenceData(x, y, x, y, 1, "sort")
    with pytest.raises(ValueError, match="one length T"):
        SequenceData(x, y, x[:, :3], y[:, :3], 10, "sort")


def test_sequence_run_checks_its_fields():
    SequenceRun(np.ones(3), 0.5, None, 1e-3, 0)
    with pytest.raises(TypeError, match="loss must be a 1-D numpy array"):
        SequenceRun([1.0, 2.0], 0.5, None, 1e-3, 0)
    with pytest.raises(ValueError, match="accuracy"):
        SequenceRun(np.ones(3), 1.5, None, 1e-3, 0)
    with pytest.raises(ValueError, match="diverged_at"):
        SequenceRun(np.ones(3), 0.5, -1, 1e-3, 0)
    with pytest.raises(ValueError, match="lr"):
        SequenceRun(np.ones(3), 0.5, None, 0.0, 0)
    with pytest.raises(ValueError, match="warmup"):
        SequenceRun(np.ones(3), 0.5, None, 1e-3, -2)


def test_batch_norm_cache_checks_its_fields():
    x = torch.randn(6, 3)
    _, cache = rl.batchnorm.batch_norm_forward(x, torch.ones(3), torch.zeros(3))
    assert isinstance(cache, BatchNormCache) and cache.m == 6
    assert cache._replace(m=6).m == 6 and tuple(cache)[-1] == 6
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(3,\)"):
        BatchNormCache(cache.x_hat, cache.inv_std, torch.ones(4), cache.mean, cache.var, 6)
    with pytest.raises(ValueError, match="m must be the values per channel"):
        BatchNormCache(*cache[:5], 5)
    with pytest.raises(TypeError, match="x_hat must be a torch.Tensor"):
        BatchNormCache(None, *cache[1:])


def test_running_stats_trace_checks_its_fields():
    trace = rl.batchnorm.running_stats_trace(8, 0.1, steps=5)
    RunningStatsTrace(
        *(getattr(trace, f) for f in ("running_mean", "running_var", "gap", "mean", "var", "output"))
    )
    with pytest.raises(ValueError, match="one value per step"):
        RunningStatsTrace(trace.running_mean, trace.running_var[:3], trace.gap, 1.0, 1.0, trace.output)
    with pytest.raises(TypeError, match="output must be a non-empty 1-D numpy array"):
        RunningStatsTrace(trace.running_mean, trace.running_var, trace.gap, 1.0, 1.0, None)
    with pytest.raises(ValueError, match="var"):
        RunningStatsTrace(trace.running_mean, trace.running_var, trace.gap, 1.0, -1.0, trace.output)


def test_shattering_result_checks_its_fields():
    g = np.linspace(0, 1, 8)
    ShatteringResult(g, g, g, float("nan"))  # the explorer's placeholder
    with pytest.raises(ValueError, match="one value per grid point"):
        ShatteringResult(g, g[:4], g, 0.5)
    with pytest.raises(TypeError, match="grad must be a 1-D numpy array"):
        ShatteringResult(g, None, g, 0.5)


# --- read-only tables ---------------------------------------------------------------------------


def test_public_tables_are_read_only_and_still_work():
    with pytest.raises(TypeError):
        rl.inits.INITS["he"] = 1.0
    with pytest.raises(TypeError):
        rl.mlp.ACTIVATIONS["relu"] = nn.Tanh
    with pytest.raises(TypeError):
        rl.attention.ACTIVATIONS[0] = "tanh"
    assert dict(rl.inits.INITS) == {"he": 2.0, "glorot": 1.0}
    assert set(rl.mlp.ACTIVATIONS) == {"relu", "sigmoid", "tanh"}
    assert isinstance(mlp(2, 4, 3, 2, activation="tanh").stem.act, nn.Tanh)
    assert rl.stacking.groupable(mlp(2, 4, 3, 2, activation="sigmoid"))
    assert rl.variance.forward_backward_profile(3, init="glorot", width=8, n_samples=4) is not None


# --- seeds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda s: rl.sequences.sequence_task(4, 4, seed=s, device="cpu"),
        lambda s: rl.shattering.shattering_net(2, True, width=4, seed=s),
        lambda s: rl.batchnorm.running_stats_trace(4, 0.1, steps=3, seed=s),
        lambda s: rl.euler.euler_trajectory(2, seed=s),
        lambda s: rl.variance.forward_backward_profile(2, width=4, n_samples=4, seed=s),
        lambda s: rl.gradients.gradient_flow(
            2, "relu", torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), seed=s
        ),
        lambda s: ShortPathTraining(mlp(2, 4, 3, 2, residual=True), 1, seed=s),
        lambda s: rl.landscape.random_directions(nn.Linear(2, 2), seed=s),
    ],
)
def test_seeds_take_the_whole_range_torch_takes(call):
    call(2**63 - 1)
    with pytest.raises(
        ValueError, match=r"seed must be an int in \[0, 9223372036854775807\], got 9223372036854775808"
    ):
        call(2**63)


def test_autocorrelation_and_unravel_are_bounded(monkeypatch):
    with pytest.raises(ValueError, match=r"depth=1, width=1, n_inputs=1000000 would run for about"):
        rl.shattering.shattering(1, True, width=1, n_inputs=10**6)
    with pytest.raises(ValueError, match=r"g='shape \(1000000,\)', max_lag=999999 would run for about"):
        rl.shattering.autocorrelation(np.random.default_rng(0).standard_normal(10**6))
    rl.shattering.autocorrelation(np.random.default_rng(0).standard_normal(10**6), max_lag=1)  # one lag: fast
    with pytest.raises(ValueError, match=r"blocks=16, x=\(1, 4096\) would run for about"):
        rl.paths.unravel([nn.Identity()] * 16, torch.randn(1, 4096))  # (under the memory bound)
    assert rl.paths.unravel([nn.Linear(4, 4) for _ in range(3)], torch.randn(2, 4)).keys() >= {(), (1, 2, 3)}


def test_an_mlp_with_a_stem_of_its_own_checks_only_what_it_knows():
    conv = MLP(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), nn.Sequential(), nn.Linear(2 * 26 * 26, 3))
    assert conv(torch.randn(2, 1, 28, 28)).shape == (2, 3)
    with pytest.raises(TypeError, match=r"MLP.forward: x must be a floating-point tensor"):
        conv(torch.zeros(2, 1, 28, 28, dtype=torch.long))
    normed = MLP(nn.BatchNorm1d(4), nn.Sequential(), nn.Linear(4, 3))
    assert normed(torch.randn(5, 4)).shape == (5, 3)


# --- round 2: what the fuzz found ---------------------------------------------------------------


def _residual_net():
    return mlp(3, 8, 40, 10, residual=True).eval()


_MODEL_CALLS = [
    ("path_gradient", lambda m, x, y: rl.paths.path_gradient(m, x, y, [0])),
    ("path_gradient_magnitude", lambda m, x, y: rl.paths.path_gradient_magnitude(m, x, y, samples=2)),
    ("residual_stream", lambda m, x, y: rl.variance.residual_stream(m, x)),
]


@pytest.mark.parametrize("call", [c for _, c in _MODEL_CALLS], ids=[w for w, _ in _MODEL_CALLS])
def test_functions_that_run_a_model_name_a_wrong_x(call):
    net, x, y = _residual_net(), torch.randn(4, 40), torch.arange(4)
    call(net, x, y)  # the good input runs
    # as the model's own forward says it, before torch's "mat1 and mat2"
    float16 = r"MLP.forward: x has dtype torch.float16, but MLP's weights are torch.float32; call x.float\(\)"
    with pytest.raises(TypeError, match=float16):
        call(net, x.half(), y)
    with pytest.raises(ValueError, match=r"MLP.forward: x is on meta, but MLP's weights are on cpu"):
        call(net, x.to("meta"), y)
    with pytest.raises(ValueError, match=r"MLP.forward: x must have size 40 in dimension 1 .*\(4, 41\)"):
        call(net, torch.randn(4, 41), y)


@pytest.mark.parametrize(
    "where, call",
    [
        ("path_gradient", lambda x, y: rl.paths.path_gradient(_residual_net(), x, y, [0])),
        ("path_gradient_magnitude", lambda x, y: rl.paths.path_gradient_magnitude(_residual_net(), x, y)),
        ("weight_gradients", lambda x, y: rl.gradients.weight_gradients(_residual_net(), x, y)),
        ("gradient_flow", lambda x, y: rl.gradients.gradient_flow(2, "relu", x, y, width=4)),
    ],
)
def test_labels_on_another_device_are_named(where, call):
    with pytest.raises(ValueError, match=rf"{where}: y is on meta, but x is on cpu"):
        call(torch.randn(4, 40), torch.arange(4).to("meta"))


def test_unravel_checks_x_against_its_first_module():
    blocks = [nn.Linear(3, 3), nn.Linear(3, 3)]
    assert len(rl.paths.unravel(blocks, torch.randn(2, 3))) == 4
    with pytest.raises(TypeError, match=r"Linear.forward: x has dtype torch.float16"):
        rl.paths.unravel(blocks, torch.randn(2, 3).half())
    with pytest.raises(ValueError, match=r"Linear.forward: x is on meta"):
        rl.paths.unravel(blocks, torch.randn(2, 3, device="meta"))
    with pytest.raises(ValueError, match=r"Linear.forward: x must have size 3 in dimension 1"):
        rl.paths.unravel(blocks, torch.randn(2, 4))
    f = [lambda h: 2 * h, lambda h: h + 1]  # the notebook's own functions: nothing to check against
    assert len(rl.paths.unravel(f, torch.randn(2, 4))) == 4


def test_random_skip_takes_what_its_block_takes():
    skip = RandomSkip(ResidualBlock(4, "relu", None, 1.0), 0.5)
    assert skip(torch.randn(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match=r"RandomSkip.forward: x must have size 4 in dimension 1"):
        skip(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"RandomSkip.forward: x must have 2 dimensions"):
        skip(torch.randn(1, 3, 4))
    conv = RandomSkip(nn.Conv2d(2, 2, 3, padding=1), 0.5)  # a conv block: any (N, C, H, W)
    assert conv(torch.randn(1, 2, 5, 7)).shape == (1, 2, 5, 7)


def test_batch_norm_functions_name_a_tensor_on_another_device():
    x, gamma, beta = torch.randn(8, 3), torch.ones(3), torch.zeros(3)
    meta = lambda t: t.to("meta")
    with pytest.raises(ValueError, match=r"gamma is on cpu, but x is on meta"):
        rl.batchnorm.batch_norm_forward(meta(x), gamma, beta)
    with pytest.raises(ValueError, match=r"gamma is on meta, but x is on cpu"):
        rl.batchnorm.batch_norm_forward(x, meta(gamma), beta)
    with pytest.raises(ValueError, match=r"beta is on meta, but x is on cpu"):
        rl.batchnorm.batch_norm_forward(x, gamma, meta(beta))
    _, cache = rl.batchnorm.batch_norm_forward(x, gamma, beta)
    for backward in (rl.batchnorm.batch_norm_backward, rl.batchnorm.batch_norm_backward_simplified):
        with pytest.raises(ValueError, match=r"dy is on meta, but cache.x_hat is on cpu"):
            backward(meta(torch.randn(8, 3)), cache)


def test_batch_norm_cache_replace_is_checked_as_the_constructor():
    _, cache = rl.batchnorm.batch_norm_forward(torch.randn(6, 3), torch.ones(3), torch.zeros(3))
    for field in ("x_hat", "inv_std", "gamma", "mean", "var", "m"):
        with pytest.raises(TypeError, match=rf"\b{field}\b"):
            cache._replace(**{field: None})
        with pytest.raises(TypeError, match=rf"\b{field}\b"):
            cache._replace(**{field: "zz"})
    for field in ("inv_std", "gamma", "mean", "var"):
        with pytest.raises(ValueError, match=rf"{field} must have shape \(C,\) = \(3,\)"):
            cache._replace(**{field: getattr(cache, field)[:2]})
    assert cache._replace(m=6) == cache and type(BatchNormCache._make(cache)) is BatchNormCache


def test_gradient_flow_record_names_layers():
    flow = rl.gradients.gradient_flow(2, "relu", torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), width=4)
    for bad in (None, "zz", [1, 2.5, 3]):
        with pytest.raises(TypeError, match=r"layers must be a list of ints"):
            rl.gradients.GradientFlow(flow.norms, flow.frozen, bad, flow.edges, flow.hist, flow.status)


def test_landscape_slices_name_the_axis_that_does_not_fit():
    data = (torch.randn(8, 3), torch.randint(0, 2, (8,)))
    one = rl.landscape.loss_slice_1d(nn.Linear(3, 2), data, steps=5)
    with pytest.raises(ValueError, match=r"one value per entry of alphas \(4,\)"):
        rl.landscape.Slice1D(one.alphas[:-1], one.loss)
    two = rl.landscape.loss_slice_2d(nn.Linear(3, 2), data, steps=3, span=0.5)
    fields = dict(alphas=two.alphas, betas=two.betas, loss=two.loss, curvature_ratio=two.curvature_ratio)
    for axis in ("alphas", "betas"):
        with pytest.raises(ValueError, match=r"pair of alphas and betas: \(len\(alphas\), len\(betas\)\)"):
            rl.landscape.Slice2D(**{**fields, axis: fields[axis][:-1]}, nonconvexity=two.nonconvexity)
    for bad in (math.nan, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"nonconvexity must be a share in \[0, 1\]"):
            rl.landscape.Slice2D(**fields, nonconvexity=bad)
    # not measured (steps < 3: no interior point): NaN says so
    rl.landscape.Slice2D(**{**fields, "curvature_ratio": np.zeros((0, 0))}, nonconvexity=math.nan)


def test_sequence_records_and_accuracy_name_the_argument():
    data = rl.sequences.sequence_task(16, 8, device="cpu")
    parts = (data.x_train, data.y_train, data.x_test, data.y_test, data.vocab_size)
    for bad in (None, 3):
        with pytest.raises(TypeError, match=r"task must be a str, one of 'sort', 'reverse'"):
            SequenceData(*parts, bad)
    model = transformer(10, 8, 2, 8, 2)
    for name in ("x", "y"):
        args = dict(x=data.x_test, y=data.y_test)
        args[name] = args[name].to("meta")
        with pytest.raises(ValueError, match=rf"{name} is on the meta device"):
            rl.sequences.sequence_accuracy(model, **args)


def test_shattering_checks_values_and_lag1():
    result = rl.shattering.shattering(3, residual=True, width=8, n_inputs=16)
    ShatteringResult(result.x, result.grad, result.autocorr, result.lag1)
    for bad in (math.nan, result.lag1 + 0.1):
        with pytest.raises(ValueError, match=r"lag1 must be autocorr\[1\]"):
            ShatteringResult(result.x, result.grad, result.autocorr, bad)
    net = rl.shattering.shattering_net(3, residual=True, width=8).eval()
    x = torch.linspace(-1, 1, 8)
    for value in (math.nan, math.inf):
        with pytest.raises(ValueError, match=r"x holds NaN or infinity"):
            rl.shattering.input_gradients(net, torch.where(x > 0.9, value, x))
    with pytest.raises(TypeError, match=r"g must hold real numbers, got dtype torch.complex64"):
        rl.shattering.autocorrelation(torch.randn(8).to(torch.complex64))
    with pytest.raises(TypeError, match=r"g must hold real numbers"):
        rl.shattering.autocorrelation(np.ones(8) * 1j)
    with pytest.raises(ValueError, match=r"g is on the meta device"):
        rl.shattering.autocorrelation(torch.randn(8, device="meta"))
    assert rl.shattering.autocorrelation(torch.arange(8)).shape == (8,)  # integers correlate


def test_grouped_modules_keep_a_diverged_model_to_itself():
    # fit trains M models as one: a model whose weights went NaN stops, the others go on
    # (test_train_stacked), so NaN weights are valid and show in that model's outputs only
    w, b = torch.randn(2, 3, 4), torch.randn(2, 3)
    w[1, 0, 0] = math.nan
    y = GroupedLinear(w, b)(torch.randn(2, 5, 4))
    assert torch.isfinite(y[0]).all() and torch.isnan(y[1]).any()
    ones, zeros = torch.ones(2, 3), torch.zeros(2, 3)
    mean = torch.tensor([[0.0] * 3, [math.nan] * 3])
    bn = GroupedBatchNorm(ones, zeros, mean, ones.clone(), torch.zeros(2, dtype=torch.long)).eval()
    y = bn(torch.randn(2, 5, 3))
    assert torch.isfinite(y[0]).all() and not torch.isfinite(y[1]).all()


def test_stream_readout_needs_one_length_per_axis():
    data = rl.sequences.sequence_task(16, 8, device="cpu")
    readout = rl.stream.logit_lens(transformer(10, 8, 2, 8, 2), data.x_test, data.y_test)
    fields = {f: getattr(readout, f) for f in readout.__dataclass_fields__}
    rl.stream.StreamReadout(**fields)
    with pytest.raises(ValueError, match=r"probs needs L \+ 1 = 3 rows"):
        rl.stream.StreamReadout(**{**fields, "probs": readout.probs[:-1]})
    for name in ("tokens", "target"):
        with pytest.raises(ValueError, match=rf"{name} \(7,\).*need one length T"):
            rl.stream.StreamReadout(**{**fields, name: fields[name][:-1]})
