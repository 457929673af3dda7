import functools
import json
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

import reslib as rl
from reslib import runtime


def test_set_seed_makes_torch_numpy_and_python_repeat():
    import random

    rl.set_seed(123)
    a = (torch.randn(3), np.random.rand(3), random.random())
    rl.set_seed(123)
    b = (torch.randn(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_set_seed_returns_a_seeded_generator():
    g1, g2 = rl.set_seed(7), rl.set_seed(7)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


@pytest.mark.parametrize("seed", [np.int64(3), np.uint32(3), np.int8(3)])
def test_set_seed_accepts_numpy_integers(seed):
    # its own check allowed np.integer, then random.seed(np.int64(3)) raised a TypeError
    import random

    g = rl.set_seed(seed)
    a = (torch.randn(2), np.random.rand(), random.random(), torch.rand(2, generator=g))
    rl.set_seed(3)
    b = (torch.randn(2), np.random.rand(), random.random(), torch.rand(2, generator=rl.set_seed(3)))
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] and torch.equal(a[3], b[3])


@pytest.mark.parametrize(
    "bad, error",
    [
        (-1, ValueError),
        (2**63, ValueError),
        (2**64, ValueError),
        (1.5, TypeError),
        ("0", TypeError),
        (True, TypeError),
    ],
)
def test_set_seed_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="seed"):
        rl.set_seed(bad)


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert rl.device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert rl.device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert rl.device() == torch.device("cpu")


def test_byte_cache_keeps_at_most_its_budget_and_drops_the_least_recent():
    calls = []

    @rl.runtime.byte_cache(100)
    def zeros(n):
        calls.append(n)
        return torch.zeros(n, dtype=torch.uint8)  # n bytes

    a = zeros(40)
    assert zeros(40) is a and calls == [40]
    zeros(50)
    zeros(40)  # most recent now: 50 is dropped first
    zeros(30)
    assert zeros.cache_bytes() == 70 and calls == [40, 50, 30]
    zeros(50)
    assert calls == [40, 50, 30, 50]
    big = zeros(500)  # larger than the whole budget: returned, never kept
    assert big.numel() == 500 and zeros.cache_bytes() <= 100
    zeros(500)
    assert calls[-2:] == [500, 500]
    zeros.cache_clear()
    assert zeros.cache_bytes() == 0


def test_local_seed_repeats_inside_and_restores_the_callers_stream():
    torch.manual_seed(123)
    expected = torch.rand(2)  # what the caller's next draw is without the block
    torch.manual_seed(123)
    with rl.runtime.local_seed(7):
        first = torch.randn(3)
    with rl.runtime.local_seed(7):
        assert torch.equal(torch.randn(3), first)
    assert torch.equal(torch.rand(2), expected)


def test_local_seed_restores_the_stream_when_the_block_raises():
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    with pytest.raises(KeyError), rl.runtime.local_seed(None):
        torch.rand(10)
        raise KeyError("an answer that fails")
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize(("bad", "error"), [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_local_seed_checks_its_seed_before_the_block(bad, error):
    with pytest.raises(error, match="seed"):
        rl.runtime.local_seed(bad)


def test_num_threads_sets_when_called_and_restores_on_exit_even_after_an_error():
    before = torch.get_num_threads()
    try:
        with rl.runtime.num_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before
        with pytest.raises(RuntimeError), rl.runtime.num_threads(1):
            raise RuntimeError("a cell that fails")
        assert torch.get_num_threads() == before
        rl.runtime.num_threads(1)  # called like torch.set_grad_enabled(False): it acts at once
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_num_threads_refuses_a_bad_count(bad, error):
    before = torch.get_num_threads()
    with pytest.raises(error, match="n must be"):
        rl.runtime.num_threads(bad)
    assert torch.get_num_threads() == before


def test_require_device_passes_none_through_and_refuses_a_missing_device():
    assert rl.validate.require_device("device", None) is None
    assert rl.validate.require_device("device", "cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be a device such as"):
        rl.validate.require_device("device", "gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="this machine has no cuda device"):
            rl.validate.require_device("device", "cuda")


def test_step_flops_counts_three_forward_passes_on_the_meta_device():
    layer = nn.Linear(40, 10)
    before = layer.weight.clone()
    state = torch.get_rng_state()
    assert rl.runtime.step_flops(layer, torch.zeros(100, 40)) == 3 * 2 * 100 * 40 * 10
    assert torch.equal(layer.weight, before) and layer.weight.device.type == "cpu"
    assert torch.equal(torch.get_rng_state(), state)  # nothing drawn, nothing computed


def test_device_for_keeps_small_steps_on_the_cpu_and_sends_large_ones_to_the_gpu(monkeypatch):
    small, big = (nn.Linear(40, 10), torch.zeros(100, 40)), (nn.Linear(2048, 2048), torch.zeros(1000, 2048))
    assert rl.runtime.device_for(*big) == rl.device() or rl.device().type == "cpu"
    monkeypatch.setattr(rl.runtime, "device", lambda: torch.device("cuda"))  # a machine with a GPU
    assert rl.runtime.device_for(*small) == torch.device("cpu")
    assert rl.runtime.device_for(*big) == torch.device("cuda")  # 2.5e10 FLOPs per step
    flops = rl.runtime.step_flops(*small)
    many = math.ceil(rl.runtime.GPU_MIN_FLOPS / flops)  # stacked models add up
    assert rl.runtime.device_for(*small, models=many) == torch.device("cuda")
    assert rl.runtime.device_for(*small, models=many - 1) == torch.device("cpu")
    monkeypatch.setattr(rl.runtime, "device", lambda: torch.device("cpu"))
    assert rl.runtime.device_for(*big) == torch.device("cpu")


def test_device_for_rejects_bad_arguments_by_name(monkeypatch):
    with pytest.raises(TypeError, match="example"):
        rl.runtime.device_for(nn.Linear(4, 2), [[0.0] * 4])
    with pytest.raises(ValueError, match="models"):
        rl.runtime.device_for(nn.Linear(4, 2), torch.zeros(1, 4), models=0)
    with pytest.raises(ValueError, match="holds torch.int64, but the model has no embedding"):
        rl.runtime.device_for(nn.Linear(4, 2), torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="does not run on example of shape"):
        rl.runtime.step_flops(nn.Linear(4, 2), torch.zeros(1, 5))
    monkeypatch.setattr(rl.runtime, "device", lambda: torch.device("cuda"))  # only then is it run
    with pytest.raises(ValueError, match="does not run on example of shape"):
        rl.runtime.device_for(nn.Linear(4, 2), torch.zeros(1, 5))


def test_cores_is_the_thread_count_torch_started_with_whatever_is_set_later():
    started = rl.runtime.cores()
    assert isinstance(started, int) and started >= 1
    with rl.runtime.num_threads(1):
        assert rl.runtime.cores() == started  # a notebook's num_threads(1) does not change it


def test_seeds_run_up_to_2_63_minus_1_and_are_refused_past_it():
    # 2**63 and up used to reach torch as "Overflow when unpacking long long" in some functions
    rl.set_seed(2**63 - 1)
    with rl.runtime.local_seed(2**63 - 1):
        torch.randn(2)
    for call in (rl.set_seed, rl.runtime.local_seed):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 9223372036854775807\]"):
            call(2**63)


# runtime.parallel: calls side by side, one core each, the numbers of one thread.


@pytest.fixture
def two_cores(monkeypatch):
    """parallel uses threads wherever torch started with 2 or more (CI's 2 cores; Binder has 1)."""
    monkeypatch.setattr(runtime, "_STARTING_THREADS", 2)


needs_fork = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="parallel forks worker processes on Linux only"
)


@pytest.fixture
def forks(monkeypatch, two_cores):
    """How many worker processes parallel forked (each os.fork in this process)."""
    import os

    count = []
    real = os.fork

    def counting():
        count.append(1)
        return real()

    monkeypatch.setattr(os, "fork", counting)
    return count


def _stacks(seed: int = 0):
    torch.manual_seed(seed)
    plain = [rl.mlp.mlp(4, 16, 40, 10) for _ in range(2)]
    residual = [rl.mlp.mlp(3, 16, 40, 10, residual=True, norm="batch") for _ in range(2)]
    return plain, residual


@pytest.mark.parametrize("route", ["threads", "processes"])
def test_parallel_trains_bit_for_bit_what_one_thread_trains_one_stack_after_another(route, forks):
    if route == "processes" and not sys.platform.startswith("linux"):
        pytest.skip("parallel forks worker processes on Linux only")
    data = rl.data.mnist1d(num_samples=400)
    sequential, side_by_side = _stacks(), _stacks()
    args = dict(epochs=2, lr=0.05, batch_size=50, seed=[0, 1], progress=False)
    with runtime.num_threads(1):
        expected = [rl.train.fit(stack, data, **args) for stack in sequential]
    calls = [functools.partial(rl.train.fit, stack, data, **args) for stack in side_by_side]
    if route == "threads":  # in a lambda parallel cannot see what a call changes: it runs it in a thread
        calls = [lambda call=call: call() for call in calls]
    threads_before = torch.get_num_threads()
    got = runtime.parallel(calls)
    assert len(forks) == (2 if route == "processes" else 0)
    assert torch.get_num_threads() == threads_before  # the caller's count is given back
    assert got == expected  # the Histories, every curve
    for a, b in zip(sum(sequential, []), sum(side_by_side, []), strict=True):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name  # bit for bit, BN statistics and batch counts too


def test_parallel_keeps_the_order_of_its_calls_and_runs_them_in_threads_only_with_cores(
    monkeypatch,
):
    import threading

    def named(k):
        return lambda: (k, threading.current_thread().name, runtime.in_worker())

    for cores, threaded in ((1, False), (2, True)):
        monkeypatch.setattr(runtime, "_STARTING_THREADS", cores)
        got = runtime.parallel([named(k) for k in range(5)])
        assert [k for k, _, _ in got] == list(range(5))
        assert all(name.startswith("reslib") == threaded == worker for _, name, worker in got)
    assert runtime.parallel([]) == [] and not runtime.in_worker()


def test_parallel_inside_a_call_runs_its_calls_in_that_thread(two_cores):
    import threading

    def inner():
        return runtime.parallel([threading.current_thread, threading.current_thread])

    outer, inside = runtime.parallel([inner, inner])
    assert len({t.name for t in outer}) == 1 and len({t.name for t in inside}) == 1


def test_parallel_re_raises_a_calls_own_error_and_stops_the_other_calls(two_cores):
    import time

    seen = []

    def waits():  # as fit does once a step
        deadline = time.monotonic() + 20
        while not runtime.stop_requested() and time.monotonic() < deadline:
            time.sleep(0.005)
        seen.append(runtime.stop_requested())
        raise KeyboardInterrupt

    def fails():
        time.sleep(0.05)
        raise ValueError("lr must be positive")

    with pytest.raises(ValueError, match="lr must be positive"):
        runtime.parallel([waits, fails, lambda: seen.append("never started")])
    assert seen == [True]  # asked to stop; the third call never started (two workers, both busy)
    assert not runtime.stop_requested()  # cleared: the next fit runs


def test_parallel_stops_a_training_on_an_interrupt_and_raises_it(two_cores):
    import _thread
    import time

    data = rl.data.mnist1d(num_samples=400)
    plain, _ = _stacks()

    def interrupt():
        time.sleep(0.3)
        _thread.interrupt_main()  # what the kernel's stop button does

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runtime.parallel(
            [functools.partial(rl.train.fit, plain, data, epochs=10_000, lr=0.05, progress=False), interrupt]
        )
    assert time.monotonic() - start < 10  # 10,000 epochs would take minutes: the training stopped
    assert not runtime.stop_requested()
    rl.train.fit(plain[0], data, epochs=1, lr=0.05, progress=False)  # and training works again


def test_parallel_refuses_calls_that_draw_from_the_global_generator(two_cores):
    with pytest.raises(RuntimeError, match="global random generator"):
        runtime.parallel([lambda: torch.rand(1), lambda: None])
    drop = nn.Sequential(nn.Linear(40, 10), nn.Dropout(0.5))
    data = rl.data.mnist1d(num_samples=200)
    with pytest.raises(RuntimeError, match="dropout"):
        runtime.parallel([functools.partial(rl.train.fit, drop, data, epochs=1, lr=0.1, progress=False)])


@pytest.mark.parametrize("bad", [[1], [None, lambda: 1], "fit"])
def test_parallel_names_what_is_not_a_call(bad):
    with pytest.raises(TypeError, match=r"calls(\[\d\])? "):
        runtime.parallel(bad)


def test_parallel_runs_calls_one_after_the_other_where_mps_is_the_device(two_cores, monkeypatch):
    import threading

    monkeypatch.setattr(runtime, "device", lambda: torch.device("mps"))
    names = runtime.parallel([lambda: threading.current_thread().name] * 3)
    assert names == [threading.current_thread().name] * 3


# runtime.parallel in processes: fit and train_sequence_models partials, on Linux, on the CPU.


def test_parallel_chooses_processes_only_for_trainings_it_can_bring_back():
    data = rl.data.mnist1d(num_samples=200)
    plain, residual = _stacks()
    fit = functools.partial(rl.train.fit, plain, data, epochs=1, lr=0.1)
    found = rl.workers.trained_modules([fit, functools.partial(rl.train.fit, model=residual[0], data=data)])
    assert found == ([[*plain], [residual[0]]] if sys.platform.startswith("linux") else None)
    assert rl.workers.trained_modules([fit, lambda: None]) is None  # a lambda's effects cannot be seen
    other = functools.partial(print, plain)
    assert rl.workers.trained_modules([fit, other]) is None  # nor another function's
    meta = functools.partial(rl.train.fit, nn.Linear(40, 10).to("meta"), data, epochs=1, lr=0.1)
    assert rl.workers.trained_modules([fit, meta]) is None  # a tensor off the CPU: threads


@needs_fork
def test_parallel_in_processes_brings_back_generators_and_training_flags(forks):
    # stochastic depth draws its coins from a generator the module holds: it must move on here as there
    data = rl.data.mnist1d(num_samples=300)

    def nets():
        out = []
        for seed in (0, 1, 2):
            rl.set_seed(seed)
            out.append(rl.paths.stochastic_depth(rl.mlp.mlp(4, 16, 40, 10, residual=True), 0.5, seed=seed))
        out[1].eval()  # fit leaves a single model in training mode
        return out

    alone, forked = nets(), nets()
    with runtime.num_threads(1):
        expected = [
            rl.train.fit(n, data, epochs=2, lr=0.05, seed=s, progress=False) for s, n in enumerate(alone)
        ]
    got = runtime.parallel(
        functools.partial(rl.train.fit, n, data, epochs=2, lr=0.05, seed=s, progress=False)
        for s, n in enumerate(forked)
    )
    assert len(forks) == 3 and got == expected
    for a, b in zip(alone, forked, strict=True):
        assert [m.training for m in a.modules()] == [m.training for m in b.modules()]
        assert torch.equal(a.blocks[0].generator.get_state(), b.blocks[0].generator.get_state())
        assert all(
            torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
        )


@needs_fork
def test_parallel_in_processes_brings_back_sequence_runs(forks):
    data = rl.sequences.sequence_task(64, 32, length=4, vocab_size=5, device="cpu")

    def group(seed):
        rl.set_seed(seed)
        return [rl.transformer.transformer(5, 4, 1, 8, 2, d_ff=16) for _ in range(2)]

    alone, forked = [group(0), group(1)], [group(0), group(1)]
    with runtime.num_threads(1):
        expected = [rl.sequences.train_sequence_models(g, data, 3, 1e-2) for g in alone]
    got = runtime.parallel(
        functools.partial(rl.sequences.train_sequence_models, g, data, 3, 1e-2) for g in forked
    )
    assert len(forks) == 2
    for want, runs in zip(expected, got, strict=True):
        for a, b in zip(want, runs, strict=True):
            assert np.array_equal(a.loss, b.loss) and a.loss.dtype == b.loss.dtype
            assert (a.accuracy, a.diverged_at, a.lr, a.warmup) == (b.accuracy, b.diverged_at, b.lr, b.warmup)


@needs_fork
def test_parallel_in_processes_starts_the_longest_training_first_and_keeps_the_order(forks, monkeypatch):
    # 4 calls on 2 cores: in the order given, the longest would start last and run alone at the end
    from reslib import workers

    data = rl.data.mnist1d(num_samples=200)
    seqs = rl.sequences.sequence_task(64, 32, length=4, vocab_size=5, device="cpu")
    torch.manual_seed(0)
    nets = [rl.mlp.mlp(depth, 16, 40, 10) for depth in (1, 2, 8)]
    group = [rl.transformer.transformer(5, 4, 1, 8, 2, d_ff=16)]
    calls = [functools.partial(rl.train.fit, net, data, epochs=1, lr=0.05, progress=False) for net in nets]
    calls.append(functools.partial(rl.sequences.train_sequence_models, group, seqs, 2, 1e-2))
    modules = workers.trained_modules(calls)
    costs = [workers._cost(call, m) for call, m in zip(calls, modules, strict=True)]
    parameters = [sum(p.numel() for p in net.parameters()) for net in [*nets, *group]]
    examples = [len(data.x_train)] * 3 + [2 * 32]  # epochs x training set; steps x batch size
    assert costs == [n * k for n, k in zip(parameters, examples, strict=True)]
    started = []
    start = workers._start_worker
    monkeypatch.setattr(workers, "_start_worker", lambda call, *a: started.append(call) or start(call, *a))
    got = runtime.parallel(calls)
    assert started == sorted(calls, key=lambda c: -costs[calls.index(c)])
    assert [type(r).__name__ for r in got] == ["History"] * 3 + ["list"]  # in the order given
    assert [len(r.train_loss) for r in got[:3]] == [1, 1, 1] and len(got[3]) == 1
    assert workers._cost(functools.partial(rl.train.fit, nets[0]), modules[0]) == 0  # no epochs given


@needs_fork
def test_parallel_in_processes_re_raises_a_calls_error_and_stops_the_other_calls(forks):
    import time

    data = rl.data.mnist1d(num_samples=200)
    plain, residual = _stacks()
    start = time.monotonic()
    with pytest.raises(ValueError, match="lr must be") as caught:
        runtime.parallel(  # the longest first (as given here): the failing call starts second
            [
                functools.partial(rl.train.fit, plain, data, epochs=10_000, lr=0.05, progress=False),
                functools.partial(rl.train.fit, residual, data, epochs=1, lr=-1.0, progress=False),
                functools.partial(rl.train.fit, residual[0], data, epochs=1, lr=0.05, progress=False),
            ]
        )
    assert time.monotonic() - start < 10  # the long training was stopped
    assert len(forks) == 2  # and the third call never started
    assert "worker process" in "".join(caught.value.__notes__)  # with the child's traceback


@needs_fork
def test_parallel_in_processes_stops_on_an_interrupt_and_leaves_no_process_behind(forks):
    import _thread
    import os
    import threading
    import time

    data = rl.data.mnist1d(num_samples=400)
    plain, residual = _stacks()
    timer = threading.Timer(0.5, _thread.interrupt_main)  # what the kernel's stop button does
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        runtime.parallel(
            functools.partial(rl.train.fit, stack, data, epochs=10_000, lr=0.05, progress=False)
            for stack in (plain, residual)
        )
    timer.join()
    assert time.monotonic() - start < 10 and len(forks) == 2
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every child was waited for: none is left running or unreaped
    rl.train.fit(plain[0], data, epochs=1, lr=0.05, progress=False)  # and training works again


@needs_fork
def test_parallel_in_processes_refuses_calls_that_draw_from_the_global_generator(forks):
    drop = [nn.Sequential(nn.Linear(40, 10), nn.Dropout(0.5)) for _ in range(2)]
    data = rl.data.mnist1d(num_samples=200)
    with pytest.raises(RuntimeError, match="dropout"):
        runtime.parallel(
            functools.partial(rl.train.fit, d, data, epochs=1, lr=0.1, progress=False) for d in drop
        )
    assert len(forks) == 2


def test_parallel_in_processes_encodes_results_without_pickle():
    value = [
        rl.train.History([1.0, math.nan], [0.5, 0.25], [math.inf], [0.1], None),
        ("a", None, True, 3, -math.inf),
        {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(0.5)},
        [torch.tensor(7), torch.zeros(0, 3), torch.ones(2, dtype=torch.bool)],
    ]
    blobs = []
    text = json.dumps(rl.workers._encode(value, blobs))
    back = rl.workers._decode(json.loads(text), blobs)
    history, plain, arrays, tensors = back
    assert (
        history.train_loss[0] == 1.0 and math.isnan(history.train_loss[1]) and history.test_loss == [math.inf]
    )
    assert plain == ("a", None, True, 3, -math.inf)
    assert np.array_equal(arrays["x"], value[2]["x"]) and arrays["x"].dtype == np.float32
    assert arrays["s"] == 0.5 and isinstance(arrays["s"], np.float64)
    assert [t.shape for t in tensors] == [(), (0, 3), (2,)] and tensors[0].item() == 7
    assert tensors[2].dtype == torch.bool and bool(tensors[2].all())
    with pytest.raises(TypeError, match="cannot bring a object back"):
        rl.workers._encode(object(), [])
    with pytest.raises(ValueError, match="not a dataclass of reslib"):
        rl.workers._decode({"dataclass": "reslib.runtime:num_threads", "fields": {}}, [])


class _CustomError(Exception):
    pass


def _printing_fit(model, data, fail=False):
    print("trained in a worker")
    if fail:
        raise _CustomError("a call's own error class")
    return rl.train.fit(model, data, epochs=1, lr=0.1, progress=False)


@needs_fork
def test_parallel_in_processes_prints_what_a_call_printed_and_names_its_own_error_class(
    forks, monkeypatch, capsys
):
    monkeypatch.setattr(rl.workers, "SAFE", (*rl.workers.SAFE, (__name__, "_printing_fit")))
    data = rl.data.mnist1d(num_samples=200)
    plain, residual = _stacks()
    runs = runtime.parallel(functools.partial(_printing_fit, m, data) for m in (plain[0], residual[0]))
    assert len(forks) == 2 and all(isinstance(r, rl.train.History) for r in runs)
    assert capsys.readouterr().out.count("trained in a worker") == 2
    with pytest.raises(RuntimeError, match="_CustomError: a call's own error class"):
        runtime.parallel(
            functools.partial(_printing_fit, m, data, fail=True) for m in (plain[1], residual[1])
        )
