"""`make bench`: how fast the series runs, measured rather than asserted.

    python -m tools.bench [--skip-notebooks | --explorers-only]
    python -m tools.bench --binder [--threads 1,2,4] [notebook.ipynb ...]

Prints these tables:
1. every notebook executed top to bottom in a fresh kernel: wall time, the part of it spent in the
   cells that train (`training_seconds`; the rest is the kernel's start, imports, figures, explorers
   and checks), and peak resident memory of this process plus the kernel (sampled every 20 ms) and
   its worker processes (their proportional share of pages shared with the kernel, every 200 ms:
   `PeakMemory`);
2. every registered explorer (`reslib.viz.registry.EXPLORERS`), built from its demo arguments:
   time of one `update()` (compute + figure update, no browser) over the grid of all its
   controls (`reslib.viz.static.control_grid`: up to 80 combinations, every option of a
   dropdown, each slider's ends kept; no combination twice, so every update is a cache miss),
   median and worst;
3. `reslib.train.fit` against a bare PyTorch loop doing the same work;
4. training several models (one per seed) one after another against `fit` on the list of them,
   stacked into one: optimizer steps per second (one step of one model counts one), on the CPU and,
   when CUDA is present, on the GPU (conv nets through vmap even where `fit` trains them one after
   the other, on one CPU thread: the row says so);
5. two such stacks trained one after the other on one thread against side by side with
   `reslib.runtime.parallel` (a core and a torch thread each), in threads and in worker processes
   (what it uses for `fit`), on the CPU;
6. notebook 11's transformers (`reslib.sequences.train_sequence_models`, 6 models, one thread): one
   by one, stacked through `torch.func.vmap`, and grouped (`reslib.stacking.grouped`, what it uses).
With CUDA present, table 1 runs every notebook twice: on the GPU and with CUDA hidden
(`CUDA_VISIBLE_DEVICES=`), side by side.

`--profile` counts, for the training in the series' slowest cells, the kernels launched per
optimizer step (every ATen operation that reaches a backend, counted by a `TorchDispatchMode`: on
a GPU each is at least one kernel launch, so the count is the same on a CPU) and the host reads per
epoch (`item`, `tolist`, `bool`, ... outside `torch.optim`, whose step counters stay on the CPU: on a
GPU each read waits for the device), for a loop over models and for the stacked models. Views are not
counted (they launch nothing); copies and fills are.
Targets, written down here: what the README promises (every notebook runs on a laptop CPU in
seconds) and what the house style asks of a live explorer (an update under 100 ms, else a button):
notebook <= 25 s and <= 1.5 GB on 2 CPU cores, the series <= 120 s (under nbval, with pytest's and
the kernel's start, that is the speed issue's 30 s and 150 s); update median <= 100 ms; fit >= 0.95x
the bare loop's throughput; with CUDA, no notebook slower on the GPU than with CUDA hidden.
Only the tables are printed: each kernel's own output goes to a file, shown if its notebook fails,
and `fit`'s progress bar is drawn into a buffer (it is still drawn: it is part of what fit costs).

`--binder` measures the notebooks on mybinder.org's terms instead: one CPU (`taskset -c 0`), no
network (a new network namespace with only the loopback, `unshare --net`, which needs root; without
it the table says the network was there), and for each thread count of `--threads` the kernel's
`OMP_NUM_THREADS`/`MKL_NUM_THREADS`. Binder's container sees all the host's cores but gets one CPU's
time, so a thread count above 1 oversubscribes it; pinning to one CPU reproduces that. It prints
one table: each notebook's run time and the kernel's peak resident memory per thread count, against
Binder's limits (<= 60 s, <= 2 GB; the Jupyter server adds about 0.1 GB).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from unittest import mock

import nbformat
import psutil
import torch
from nbclient import NotebookClient
from torch.nn import functional as F

import reslib as rl

ROOT = Path(__file__).resolve().parents[1]


# mybinder.org's terms: one CPU, 2 GB of memory; and the series' promise there: a minute a notebook.
BINDER_CPU, BINDER_GB, BINDER_SECONDS = "0", 2.0, 60.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class PeakMemory:
    """Peak of the summed memory of this process (unless `children_only`), its children (the kernel)
    and theirs (`rl.runtime.parallel`'s worker processes), sampled in a thread; `cpu_seconds`: the CPU
    time (user + system) the sampled processes used.

    This process and the kernel count their resident set (RSS, read every `interval`). A worker is
    forked from the kernel and shares its pages until it writes them, so its RSS would count the
    kernel's memory again: a worker counts its proportional set size (PSS: each shared page divided
    among the processes sharing it), read every `pss_interval` (reading it walks the page tables,
    ~5 ms), the last value kept in between. The sum is an upper bound: the kernel's shared pages count
    whole in its RSS and again in part in each worker's PSS."""

    def __init__(self, interval: float = 0.02, children_only: bool = False, pss_interval: float = 0.2):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self.children_only, self._cpu, self.pss_interval = children_only, {}, pss_interval

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def _sample(self) -> None:
        me = psutil.Process()
        pss: dict[int, tuple[float, int]] = {}  # worker pid -> (when read, PSS bytes)
        while not self._stop.is_set():
            total = 0
            kernels = me.children()
            workers = [w for k in kernels for w in _children(k)]
            for p in [*([] if self.children_only else [me]), *kernels, *workers]:
                try:
                    if p in workers:
                        when, size = pss.get(p.pid, (-math.inf, 0))
                        if time.monotonic() - when >= self.pss_interval:
                            when, size = time.monotonic(), p.memory_full_info().pss
                            pss[p.pid] = (when, size)
                        total += size
                    else:
                        total += p.memory_info().rss
                    times = p.cpu_times()
                    self._cpu[p.pid] = times.user + times.system  # the last sample before it exits
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:  # it ended while sampled
        return []


def bench_notebooks(paths: Iterable[Path]) -> list[tuple[str, float, float, float]]:
    """(name, seconds, peak GB of this process and the kernel, seconds in the cells that train) of
    each notebook, in a fresh kernel."""
    rows = []
    for path in paths:
        seconds, gb, _, nb = run_notebook(path, notebook=True)
        rows.append((path.name, seconds, gb, training_seconds(nb)))
    return rows


# A cell that trains: it calls fit, runtime.parallel, or a train_* function (the sequence task's
# training loop, or a notebook's own partial of it: notebook 11's train_scaled)
TRAINING_CELL = re.compile(r"\bfit\(|\bparallel\(|\btrain_\w*\(")


def training_seconds(nb: nbformat.NotebookNode) -> float:
    """Seconds an executed notebook spent in its cells that train (`TRAINING_CELL`), from the times
    the kernel reported for each cell's start and end (nbclient's `metadata.execution`)."""
    total = 0.0
    for cell in nb.cells:
        times = cell.get("metadata", {}).get("execution", {})
        start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end and TRAINING_CELL.search(cell.source):
            total += (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return total


def run_notebook(path: Path, kernel_only: bool = False, notebook: bool = False) -> tuple:
    """Run one notebook top to bottom in a fresh kernel: (wall seconds, peak GB, CPU seconds), and
    the executed notebook after them with `notebook`.

    Memory and CPU time are of this process and the kernel, or of the kernel alone (`kernel_only`).
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The kernel's stdout and stderr (ipykernel's "running over TCP without encryption" warning
    # on every start) would land between the table's rows.
    with (
        tempfile.TemporaryFile("w+", errors="replace") as kernel_log,
        PeakMemory(children_only=kernel_only) as mem,
    ):
        start = time.perf_counter()
        try:
            client.execute(stdout=kernel_log, stderr=subprocess.STDOUT)
        except Exception:
            kernel_log.seek(0)
            sys.stderr.write(f"--- {path.name}: kernel output\n{kernel_log.read()}")
            raise
        seconds = time.perf_counter() - start
    return (seconds, mem.peak / 2**30, mem.cpu_seconds) + ((nb,) if notebook else ())


# Updates timed per explorer: the grid of all its controls, thinned to at most this many.
EXPLORER_UPDATES = 80  # ResNet: 11 networks x 2 stride placements x 3 metrics = 66


def bench_explorers() -> list[tuple[str, int, float, float, dict]]:
    """(notebook and name, updates, median ms, worst ms, the values of the worst) per explorer."""
    rows = []
    for entry in sorted(rl.viz.EXPLORERS.values(), key=lambda e: (e.notebook, e.name)):
        name = f"{entry.notebook[:2]} {entry.name}"
        explorer = entry.build()
        sweep = rl.viz.control_grid(explorer, list(explorer.controls), EXPLORER_UPDATES)
        times = []
        for values in sweep:
            start = time.perf_counter()
            explorer.update(**values)
            times.append(time.perf_counter() - start)
            if explorer.error is not None:
                raise RuntimeError(f"{name} failed at {values}: {explorer.error}")
        worst = max(range(len(times)), key=times.__getitem__)
        rows.append((name, len(times), statistics.median(times) * 1e3, times[worst] * 1e3, sweep[worst]))
    return rows


def bare_loop(model, data, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    """The loop a tutorial would write: SGD with momentum, shuffled mini-batches, test each epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    x, y = data.x_train, data.y_train
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen).to(x.device)
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            F.cross_entropy(model(data.x_test), data.y_test).item()


def bench_fit(repeats: int = 9, epochs: int = 5) -> tuple[float, float, float]:
    data = rl.data.mnist1d()
    examples = epochs * len(data.x_train)
    best = {"fit": float("inf"), "bare": float("inf")}
    for _ in range(repeats):  # alternate, keep the best of each: least disturbed by the machine
        for kind in ("bare", "fit"):
            rl.set_seed(0)
            model = rl.mlp.mlp(8, 64, 40, 10).to(data.x_train.device)
            start = time.perf_counter()
            if kind == "fit":
                with contextlib.redirect_stderr(io.StringIO()):  # tqdm's bar, not for the terminal
                    rl.train.fit(model, data, epochs=epochs, lr=0.05, progress=True)
            else:
                bare_loop(model, data, epochs, 0.05, 100, seed=0)
            best[kind] = min(best[kind], time.perf_counter() - start)
    fit_rate, bare_rate = examples / best["fit"], examples / best["bare"]
    return fit_rate, bare_rate, fit_rate / bare_rate


def _stack_workloads() -> dict[str, tuple]:
    """name -> (build one model from a seed, data, fit's keyword arguments): the series' trainings."""
    data = rl.data.mnist1d()
    segment = rl.scenes.segmentation(n=400, size=32, seed=0, noise=0.2)
    return {
        "01 16-layer plain MLP": (
            lambda: rl.mlp.mlp(16, 64, 40, 10),
            (data.x_train, data.y_train),
            dict(lr=0.05),
        ),
        "03 12-block residual MLP + BN": (
            lambda: rl.mlp.mlp(12, 64, 40, 10, residual=True, norm="batch"),
            data,
            dict(lr=0.05),
        ),
        "09 U-Net (depth 3, 8 channels)": (
            lambda: rl.unet.UNet(1, 3, depth=3, base_channels=8, padding="same"),
            (segment.x, segment.mask),
            dict(lr=3e-3, batch_size=10, optimizer="adam", loss_fn=rl.unet.segmentation_loss),
        ),
    }


def _models(build, count: int, device: torch.device) -> list:
    models = []
    for seed in range(count):
        rl.set_seed(seed)
        models.append(build().to(device))
    return models


def _to(data, device: torch.device):
    if isinstance(data, tuple):
        return tuple(t.to(device) for t in data)
    return rl.data.TensorData(
        data.x_train.to(device),
        data.y_train.to(device),
        data.x_test.to(device),
        data.y_test.to(device),
        data.num_classes,
    )


def bench_stacked(count: int = 3, epochs: int = 1) -> list[tuple[str, str, float, float, bool]]:
    """(workload, device, steps/s in a loop over `count` models, steps/s stacked, whether `fit` stacks
    them there) per workload and device; a step of one model counts one. Best of three, alternating."""
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for name, (build, data, kwargs) in _stack_workloads().items():
        for device in devices:
            on = _to(data, device)
            n = len(on[0]) if isinstance(on, tuple) else len(on.x_train)
            steps = count * epochs * -(-n // kwargs.get("batch_size", 100))
            best = {"loop": float("inf"), "stacked": float("inf")}
            for _ in range(3):
                for kind in best:
                    models = _models(build, count, device)
                    start = time.perf_counter()
                    if kind == "loop":
                        for seed, model in enumerate(models):
                            rl.train.fit(model, on, epochs, seed=seed, progress=False, **kwargs)
                    else:  # stacked even where fit would not stack them (vmap on one CPU thread), to show why
                        seeds = list(range(count))
                        with mock.patch.object(rl.train, "_vmap_pays", lambda device: True):
                            rl.train.fit(models, on, epochs, seed=seeds, progress=False, **kwargs)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    best[kind] = min(best[kind], time.perf_counter() - start)
            stacks = rl.stacking.groupable(models[0]) or rl.train._vmap_pays(device)
            rows.append((name, device.type, steps / best["loop"], steps / best["stacked"], stacks))
    return rows


def bench_parallel(count: int = 3, epochs: int = 1) -> list[tuple[str, float, float, float]]:
    """(workload, steps/s of two stacks trained one after the other on one thread, of the two side by
    side with `rl.runtime.parallel` in threads, and in its worker processes, what it uses for `fit`)
    per workload, on the CPU; best of three, alternating. Threads are forced by wrapping each call in a
    lambda (a call whose effects a worker process could not bring back)."""
    rows = []
    for name, (build, data, kwargs) in _stack_workloads().items():
        n = len(data[0]) if isinstance(data, tuple) else len(data.x_train)
        steps = 2 * count * epochs * -(-n // kwargs.get("batch_size", 100))
        best = dict.fromkeys(("one after the other", "threads", "processes"), float("inf"))
        for _ in range(3):
            for kind in best:
                stacks = [_models(build, count, torch.device("cpu")) for _ in range(2)]
                calls = [
                    functools.partial(
                        rl.train.fit, stack, data, epochs, seed=list(range(count)), progress=False, **kwargs
                    )
                    for stack in stacks
                ]
                start = time.perf_counter()
                if kind == "one after the other":
                    with rl.runtime.num_threads(1):
                        for call in calls:
                            call()
                elif kind == "threads":
                    rl.runtime.parallel([lambda call=call: call() for call in calls])
                else:
                    rl.runtime.parallel(calls)
                best[kind] = min(best[kind], time.perf_counter() - start)
        rows.append((name, *(steps / seconds for seconds in best.values())))
    return rows


class _Opaque(torch.nn.Module):
    """A model that `reslib.stacking` does not know, so `train_sequence_models` stacks it with vmap."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.net(idx)


def bench_sequences(count: int = 6, steps: int = 40) -> list[tuple[str, float, float, float]]:
    """(workload, optimizer steps/s one by one, stacked with vmap, grouped) for notebook 11's post-LN
    transformers on one thread, as it trains them; a step of one model counts one. Best of two."""
    data = rl.sequences.sequence_task(2000, 500, length=8, vocab_size=10, task="sort", seed=0)

    def models(n_layer: int, wrap: bool) -> list[torch.nn.Module]:
        out = []
        for seed in range(count):
            rl.set_seed(seed)
            net = rl.transformer.transformer(10, 8, n_layer, 32, 2, d_ff=64, norm_first=False)
            out.append(_Opaque(net) if wrap else net)
        return out

    rows = []
    with rl.runtime.num_threads(1):
        for n_layer in (4, 12):
            best = {"one by one": float("inf"), "vmap": float("inf"), "grouped": float("inf")}
            for _ in range(2):
                for kind in best:
                    stack = models(n_layer, wrap=kind == "vmap")
                    start = time.perf_counter()
                    if kind == "one by one":
                        for seed, model in enumerate(stack):
                            rl.sequences.train_sequence_models([model], data, steps, 3e-3, seeds=[seed])
                    else:
                        rl.sequences.train_sequence_models(stack, data, steps, 3e-3, seeds=list(range(count)))
                    best[kind] = min(best[kind], time.perf_counter() - start)
            name = f"11 transformer, {n_layer} blocks"
            rows.append((name, *(count * steps / best[k] for k in ("one by one", "vmap", "grouped"))))
    return rows


def _counters() -> tuple[type, type]:
    """(Kernels, HostReads): modes whose class attribute `count` counts the ATen kernels that are not
    views, and the host reads outside torch.optim, run inside them."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    class Kernels(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Kernels.count += not func.is_view  # a view launches nothing: it shares its base's memory
            return func(*args, **(kwargs or {}))

    reads = (
        torch.Tensor.item,
        torch.Tensor.tolist,
        torch.Tensor.__bool__,
        torch.Tensor.__int__,
        torch.Tensor.__float__,
    )

    class HostReads(TorchFunctionMode):
        count = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            # not torch.optim's step counters: they stay on the CPU even when training on a GPU
            if func in reads and "torch/optim/" not in sys._getframe(1).f_code.co_filename.replace("\\", "/"):
                HostReads.count += 1
            return func(*args, **(kwargs or {}))

    return Kernels, HostReads


def profile_training(count: int = 3) -> list[tuple[str, str, float, float]]:
    """(workload, "loop" or "stacked", kernels per optimizer step, host reads per epoch), on the CPU."""
    Kernels, HostReads = _counters()
    rows = []
    for name, (build, data, kwargs) in _stack_workloads().items():
        n = len(data[0]) if isinstance(data, tuple) else len(data.x_train)
        steps = -(-n // kwargs.get("batch_size", 100))  # per model and epoch
        for kind in ("loop", "stacked"):
            counts = {}
            for epochs in (1, 2):  # the difference is one epoch's work, without the set-up
                models = _models(build, count, torch.device("cpu"))
                Kernels.count = HostReads.count = 0
                with Kernels(), HostReads():
                    if kind == "loop":
                        for seed, model in enumerate(models):
                            rl.train.fit(model, data, epochs, seed=seed, progress=False, **kwargs)
                    else:
                        rl.train.fit(models, data, epochs, seed=list(range(count)), progress=False, **kwargs)
                counts[epochs] = (Kernels.count, HostReads.count)
            kernels = counts[2][0] - counts[1][0]
            rows.append((name, kind, kernels / steps, counts[2][1] - counts[1][1]))
    return rows


def profile_sequences(count: int = 6) -> list[tuple[str, float, float]]:
    """(how, kernels per optimizer step, host reads per step) for notebook 11's 12-block post-LN
    transformers, `count` of them, on the CPU: one by one, stacked through vmap, grouped."""
    Kernels, HostReads = _counters()
    data = rl.sequences.sequence_task(2000, 500, length=8, vocab_size=10, task="sort", seed=0)
    rows = []
    for kind in ("loop", "vmap", "grouped"):
        counts = {}
        for steps in (2, 4):  # the difference is two steps' work, without the set-up and evaluation
            models = []
            for seed in range(count):
                rl.set_seed(seed)
                net = rl.transformer.transformer(10, 8, 12, 32, 2, d_ff=64, norm_first=False)
                models.append(_Opaque(net) if kind == "vmap" else net)
            Kernels.count = HostReads.count = 0
            with Kernels(), HostReads():
                stacks = [[m] for m in models] if kind == "loop" else [models]
                for stack in stacks:
                    rl.sequences.train_sequence_models(stack, data, steps, 3e-3)
            counts[steps] = (Kernels.count, HostReads.count)
        rows.append((kind, (counts[4][0] - counts[2][0]) / 2, (counts[4][1] - counts[2][1]) / 2))
    return rows


@contextlib.contextmanager
def _cuda_hidden() -> Iterator[None]:
    """Kernels started inside see no GPU (they inherit this process's environment)."""
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        yield
    finally:
        if before is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def binder_command(argv: list[str]) -> list[str] | None:
    """This command again, on CPU 0 and, where `unshare` can, in a namespace with no network but lo.

    None where the machine has no `taskset` (not Linux).
    """
    if shutil.which("taskset") is None:
        return None
    inner = ["taskset", "-c", BINDER_CPU, sys.executable, "-m", "tools.bench", *argv]
    can_isolate = shutil.which("unshare") and shutil.which("ip") and os.geteuid() == 0
    if not can_isolate:
        return inner
    # A new network namespace starts with its loopback down; the kernel talks to nbclient over it.
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *inner]


def network_interfaces() -> list[str]:
    """The network interfaces this process sees (only `lo`: no network)."""
    return [name for _, name in socket.if_nameindex()]


BinderRow = tuple[str, dict[int, tuple[float, float, float]]]


def bench_binder(paths: list[Path], threads: list[int]) -> Iterator[BinderRow]:
    """Each notebook under each thread count, one notebook at a time:
    (name, {threads: (wall s, kernel peak GB, kernel CPU s)})."""
    for path in paths:
        row = {}
        for n in threads:
            for variable in THREAD_VARIABLES:
                os.environ[variable] = str(n)  # the kernel inherits this process's environment
            row[n] = run_notebook(path, kernel_only=True)
        yield path.name, row


def print_binder_table(rows: Iterable[BinderRow], threads: list[int]) -> None:
    """One row per notebook as it finishes: per thread count the wall time, the kernel's CPU time
    (what the run costs on an idle CPU: other work on a shared machine inflates the wall time, not
    this) and its peak memory. The first thread count is checked against Binder's limits, with the
    larger of wall and CPU time."""
    width = 28
    head = "".join(f"{f'{n} thread' + ('s' if n > 1 else ''):>{width}}" for n in threads)
    print(f"\n{'notebook':<34}{head}   limit <= {BINDER_SECONDS:.0f} s, <= {BINDER_GB:.0f} GB", flush=True)
    print(f"{'':<34}" + "".join(f"{'wall s':>10}{'CPU s':>9}{'GB':>9}" for _ in threads), flush=True)
    total = {n: [0.0, 0.0, 0.0] for n in threads}
    for name, row in rows:
        for n, (wall, gb, cpu) in row.items():
            total[n] = [total[n][0] + wall, max(total[n][1], gb), total[n][2] + cpu]
        wall, gb, cpu = row[threads[0]]
        ok = "ok" if max(wall, cpu) <= BINDER_SECONDS and gb <= BINDER_GB else "OVER"
        cells = "".join(f"{w:10.1f}{c:9.1f}{g:9.2f}" for w, g, c in row.values())
        print(f"{name:<34}{cells}   {ok}", flush=True)
    print(f"{'total (GB: peak)':<34}" + "".join(f"{w:10.1f}{c:9.1f}{g:9.2f}" for w, g, c in total.values()))


def main_binder(args: argparse.Namespace, argv: list[str]) -> None:
    if os.environ.get("RESLIB_BINDER_BENCH") != "inside":
        command = binder_command(argv)
        if command is None:
            sys.exit("--binder needs Linux's taskset (and unshare, as root, to cut the network)")
        os.environ["RESLIB_BINDER_BENCH"] = "inside"
        os.execvp(command[0], command)
    cpus = sorted(os.sched_getaffinity(0))
    interfaces = network_interfaces()
    network = "none (only lo)" if interfaces == ["lo"] else f"PRESENT ({', '.join(interfaces)}): not isolated"
    print(
        f"Binder's terms: CPUs {cpus}, network {network}, threads {args.threads}, machine load "
        f"{os.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores (other work there inflates times)",
        flush=True,
    )
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    threads = [int(n) for n in args.threads.split(",")]
    print_binder_table(bench_binder(paths, threads), threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--explorers-only", action="store_true", help="only the explorer table")
    parser.add_argument("--binder", action="store_true", help="one CPU, no network, per thread count")
    parser.add_argument("--threads", default="1", help="with --binder: thread counts, e.g. 1,2,4")
    parser.add_argument("--profile", action="store_true", help="kernels per step, host reads per epoch")
    parser.add_argument("paths", nargs="*", type=Path, help="with --binder: these notebooks only")
    args = parser.parse_args()
    if args.binder:
        main_binder(args, sys.argv[1:])
        return
    if args.profile:
        print("training of the slowest cells, 3 models (one per seed), on the CPU:")
        print(f"{'workload':<34}{'how':<9}{'kernels per step (3 models)':>29}{'host reads per epoch':>22}")
        for name, kind, kernels, reads in profile_training():
            print(f"{name:<34}{kind:<9}{kernels:29.0f}{reads:22d}")
        print("\nnotebook 11's transformers, 6 models (12 blocks, post-LN), on the CPU:")
        print(f"{'how':<9}{'kernels per step (6 models)':>29}{'host reads per step':>21}")
        for kind, kernels, reads in profile_sequences():
            print(f"{kind:<9}{kernels:29.0f}{reads:21.0f}")
        print("(the reads are the token-range checks, on a CPU only: a GPU skips them)")
        return
    print(f"device: {rl.device()}, torch threads: {torch.get_num_threads()}, cpus: {psutil.cpu_count()}")
    if not (args.skip_notebooks or args.explorers_only):
        paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
        print(
            "\nnotebook                              time (s)   training (s)   peak memory (GB)"
            "   target <=25 s, <=1.5 GB"
        )
        total = trained = 0.0
        for name, seconds, gb, training in bench_notebooks(paths):
            total, trained = total + seconds, trained + training
            ok = "ok" if seconds <= 25 and gb <= 1.5 else "OVER"
            print(f"{name:<38}{seconds:8.1f}{training:15.1f}{gb:19.2f}          {ok}", flush=True)
        print(f"{'total':<38}{total:8.1f}{trained:15.1f}                         target <= 120 s")
        if torch.cuda.is_available():
            print("\nnotebook                              GPU (s)   CPU, CUDA hidden (s)")
            for path in paths:
                gpu = run_notebook(path)[0]
                with _cuda_hidden():
                    cpu = run_notebook(path)[0]
                print(f"{path.name:<38}{gpu:8.1f}{cpu:14.1f}   {'ok' if gpu <= cpu else 'SLOWER ON THE GPU'}")
    print("\nexplorer                       updates   median (ms)   worst (ms)   target median <=100 ms")
    for name, n, median, worst, at in bench_explorers():
        ok = "ok" if median <= 100 else "OVER"
        print(f"{name:<30}{n:8d}{median:14.1f}{worst:13.1f}   {ok}   (worst at {at})")
    if args.explorers_only:
        return
    print("\nstacked training: 3 models (seeds 0-2), 1 epoch; optimizer steps/s (one model's step = 1)")
    print(f"{'workload':<34}{'device':<8}{'one by one':>12}{'stacked':>10}{'speed-up':>10}")
    for name, device, loop, stacked, stacks in bench_stacked():
        what = "" if stacks else "  (vmap; fit trains these one by one here)"
        print(f"{name:<34}{device:<8}{loop:12.0f}{stacked:10.0f}{stacked / loop:9.2f}x{what}", flush=True)
    print(
        f"\ntwo stacks of 3 models, 1 epoch, {rl.runtime.cores()} core(s): optimizer steps/s, one stack after"
        " the other on one thread against rl.runtime.parallel (a core each) in threads and in processes"
    )
    print(f"{'workload':<34}{'one after the other':>20}{'threads':>9}{'processes':>11}{'speed-ups':>16}")
    for name, serial, threads, processes in bench_parallel():
        ups = f"{threads / serial:.2f}x, {processes / serial:.2f}x"
        print(f"{name:<34}{serial:20.0f}{threads:9.0f}{processes:11.0f}{ups:>16}", flush=True)
    print("\nnotebook 11's transformers: 6 models (post-LN), 40 steps, one thread; optimizer steps/s")
    print(f"{'workload':<34}{'one by one':>12}{'vmap':>8}{'grouped':>9}{'speed-up':>10}")
    for name, loop, vmapped, grouped in bench_sequences():
        print(f"{name:<34}{loop:12.0f}{vmapped:8.0f}{grouped:9.0f}{grouped / loop:9.2f}x", flush=True)
    fit_rate, bare_rate, ratio = bench_fit()
    print("\ntraining throughput (mlp depth 8, width 64, MNIST-1D, 5 epochs, best of 9)")
    print(f"  reslib.train.fit: {fit_rate:,.0f} examples/s")
    print(f"  bare loop:        {bare_rate:,.0f} examples/s")
    print(f"  ratio:            {ratio:.3f}   target >= 0.95: {'ok' if ratio >= 0.95 else 'UNDER'}")


if __name__ == "__main__":
    main()
