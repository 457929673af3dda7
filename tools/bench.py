"""`make bench`: how fast the series runs, measured rather than asserted.

    python -m tools.bench [--skip-notebooks | --explorers-only]
    python -m tools.bench --binder [--threads 1,2,4] [notebook.ipynb ...]

Prints three tables:
1. every notebook executed top to bottom in a fresh kernel: wall time and peak
   resident memory of this process plus the kernel (sampled every 20 ms);
2. every registered explorer (`reslib.viz.registry.EXPLORERS`), built from its demo arguments:
   time of one `update()` (compute + figure update, no browser) over the grid of all its
   controls (`reslib.viz.static.control_grid`: up to 80 combinations, every option of a
   dropdown, each slider's ends kept; no combination twice, so every update is a cache miss),
   median and worst;
3. `reslib.train.fit` against a bare PyTorch loop doing the same work.
Targets, written down here: what the README promises (every notebook runs on a laptop CPU in
seconds) and what the house style asks of a live explorer (an update under 100 ms, else a button):
notebook <= 45 s and <= 1.5 GB on 2 CPU cores; update median <= 100 ms; fit >= 0.95x the bare
loop's throughput.
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
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

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
    """Peak of the summed RSS of this process (unless `children_only`) and all its children,
    sampled in a thread; `cpu_seconds`: the CPU time (user + system) the sampled processes used."""

    def __init__(self, interval: float = 0.02, children_only: bool = False):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self.children_only, self._cpu = children_only, {}

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [*([] if self.children_only else [me]), *me.children(recursive=True)]:
                try:
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


def bench_notebooks(paths: Iterable[Path]) -> list[tuple[str, float, float]]:
    """(name, seconds, peak GB of this process and the kernel) of each notebook, in a fresh kernel."""
    return [(path.name, *run_notebook(path)[:2]) for path in paths]


def run_notebook(path: Path, kernel_only: bool = False) -> tuple[float, float, float]:
    """Run one notebook top to bottom in a fresh kernel: (wall seconds, peak GB, CPU seconds).

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
    return seconds, mem.peak / 2**30, mem.cpu_seconds


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
    parser.add_argument("paths", nargs="*", type=Path, help="with --binder: these notebooks only")
    args = parser.parse_args()
    if args.binder:
        main_binder(args, sys.argv[1:])
        return
    print(f"device: {rl.device()}, torch threads: {torch.get_num_threads()}, cpus: {psutil.cpu_count()}")
    if not (args.skip_notebooks or args.explorers_only):
        print("\nnotebook                              time (s)   peak memory (GB)   target <=45 s, <=1.5 GB")
        for name, seconds, gb in bench_notebooks(sorted((ROOT / "notebooks").glob("*.ipynb"))):
            ok = "ok" if seconds <= 45 and gb <= 1.5 else "OVER"
            print(f"{name:<38}{seconds:8.1f}{gb:15.2f}          {ok}")
    print("\nexplorer                       updates   median (ms)   worst (ms)   target median <=100 ms")
    for name, n, median, worst, at in bench_explorers():
        ok = "ok" if median <= 100 else "OVER"
        print(f"{name:<30}{n:8d}{median:14.1f}{worst:13.1f}   {ok}   (worst at {at})")
    if args.explorers_only:
        return
    fit_rate, bare_rate, ratio = bench_fit()
    print("\ntraining throughput (mlp depth 8, width 64, MNIST-1D, 5 epochs, best of 9)")
    print(f"  reslib.train.fit: {fit_rate:,.0f} examples/s")
    print(f"  bare loop:        {bare_rate:,.0f} examples/s")
    print(f"  ratio:            {ratio:.3f}   target >= 0.95: {'ok' if ratio >= 0.95 else 'UNDER'}")


if __name__ == "__main__":
    main()
