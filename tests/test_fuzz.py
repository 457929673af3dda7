"""Every public callable of reslib, fed bad arguments one at a time (`tools/fuzz.py`, own processes).

Discovery is automatic: a new function, module, record or explorer is probed without editing this
test, and the test fails until `tools/fuzz.py` knows one valid call (or input) for it. Passing
means: every wrong type raised a TypeError naming the argument, every NaN float a ValueError
naming it, every bad tensor (NaN, inf, float16, complex, meta, a dimension more or less, a wrong
last size, a NumPy array, a nested list, integers for floats) and every edge value (-1, 0, 10**12,
inf, 'bogus') either worked where `VALID_EDGES` says why or raised a clear error; so did every bad
input to a module's forward, every bad field of a record and every bad value of an explorer's
control (which then still updates); each size at the bound a callable states returned within the
CPU budget; nothing hung, nothing was slow, nothing crashed the process.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# What the run reached on 2026-12-05: it must keep probing at least this much of the package.
AT_LEAST = dict(callables=300, rows=7400, argument=6300, bound=220, forward=380, record=330, explorer=130)


def test_every_bad_argument_gets_a_clear_error(tmp_path, capsys):
    from tools import fuzz

    out = tmp_path / "fuzz.json"
    run = subprocess.run(
        [sys.executable, "-m", "tools.fuzz", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # wall time on a loaded machine; the time that counts is the CPU time below
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # argument checks are device-free; CUDA's
        # reserved address space would not fit under the run's address-space cap
    )
    assert out.exists(), run.stderr[-3000:]  # it crashed before writing its report
    report = json.loads(out.read_text())
    with capsys.disabled():  # the counts belong in the test log: make test prints them
        print("\n" + run.stdout.split("\nno_example")[0].split("\nvalid_call")[0].split("\nsilent")[0])
    assert report["no_example"] == [], (
        "add a valid call to tools/fuzz.py EXAMPLES, VALID, FORWARD_INPUTS or RECORDS"
    )
    assert report["valid_call_fails"] == [], "a valid example call failed"
    rows = report["rows"]
    bad = [r for r in rows if r["outcome"] in fuzz.FINDINGS]
    assert not bad, "\n".join(
        f"{r['outcome']} {r['callable']}({r['argument']}={r['probe']}): {r['message']}" for r in bad[:200]
    )
    accepted = [r for r in rows if r["outcome"] == "accepted"]
    honest = [r for r in accepted if r["message"].startswith("returned NaN or infinity for NaN")]
    assert all(fuzz.valid_edge(r["callable"], r["argument"], r["probe"]) for r in accepted if r not in honest)
    assert all(re.match(r"(tensor )?(nan|inf)\b", r["probe"]) for r in honest)  # NaN in, NaN out
    assert all(len(reason) > 10 for *_, reason in fuzz.VALID_EDGES)  # each with its reason
    clear = sum(r["outcome"] == "clear" for r in rows)
    assert clear >= 0.99 * (len(rows) - len(accepted))  # of the bad inputs
    # it did probe the package
    assert len({r["callable"] for r in rows}) >= AT_LEAST["callables"] and len(rows) >= AT_LEAST["rows"]
    for kind in ("argument", "bound", "forward", "record", "explorer"):
        assert sum(r["kind"] == kind for r in rows) >= AT_LEAST[kind], kind
    # a size at the memory bound holds up to MEMORY_LIMIT (1 GiB) on top of a worker's own ~1 GiB
    assert max(report["peak_rss_gib"], report["worker_peak_rss_gib"]) < 2.5
    # each worker's CPU time is its wall time on an idle core: the run takes about a minute on 2 cores
    # (40 s a worker on an AVX-512 machine, 68-75 s on an AMD EPYC with AVX2, most of it the bounds' big
    # runs); past 90 s the fuzz itself has grown, or a callable has become slow at its bound
    assert max(report["worker_cpu_s"]) < 90, report["worker_cpu_s"]
    assert run.returncode == 0, run.stderr[-3000:]  # nothing found: the run says so too


FINDINGS = ["silent", "unclear", "hang", "slow", "crash", "stuck"]


@pytest.mark.parametrize("finding", [None, *FINDINGS, "no_example", "valid_call_fails"])
def test_main_exits_1_on_any_finding(monkeypatch, capsys, finding):
    from tools import fuzz

    assert set(FINDINGS) == set(fuzz.FINDINGS)  # a new outcome gets a case here
    row = dict(callable="rl.f", argument="x", probe="-1", kind="argument", outcome="clear", message="x >= 0")
    report = {"rows": [row], "no_example": [], "valid_call_fails": []}
    if finding in ("no_example", "valid_call_fails"):
        report[finding] = ["rl.f"]
    elif finding:
        report["rows"].append({**row, "outcome": finding})
    monkeypatch.setattr(fuzz, "run", lambda: report)
    monkeypatch.setattr(fuzz.resource, "setrlimit", lambda *args: None)  # not in the test's own process
    monkeypatch.setattr(sys, "argv", ["tools.fuzz"])
    with pytest.raises(SystemExit) as exit:
        fuzz.main()
    assert exit.value.code == (0 if finding is None else 1)
    assert ("rl.f" in capsys.readouterr().out) == (finding is not None)  # and it is named


def test_the_budget_is_cpu_time_and_each_outcome_is_sorted():
    from tools import fuzz

    # waiting costs no CPU: a loaded machine (or a sleep) is not `slow`; only the wall alarm stops it
    _, error, cpu = fuzz.timed(lambda: time.sleep(0.3), budget=0.1)
    assert error is None and cpu < 0.1
    _, error, _ = fuzz.timed(lambda: time.sleep(2), budget=0.1, wall=0.3)
    assert isinstance(error, fuzz.Hang)
    _, error, cpu = fuzz.timed(lambda: any(i < 0 for i in range(10**9)), budget=0.2)  # computing does
    assert isinstance(error, fuzz.Slow) and 0.15 < cpu < 1.0
    assert fuzz.classify(error, cpu, ["x"], "edge")[0] == "slow"
    assert fuzz.classify(fuzz.Hang(), 0.0, ["x"], "edge")[0] == "hang"
    assert fuzz.classify(MemoryError(), 0.0, ["x"], "edge")[0] == "crash"
    assert (
        fuzz.classify(RuntimeError("DefaultCPUAllocator: can't allocate memory"), 0, ["x"], "edge")[0]
        == "crash"
    )
    assert fuzz.classify(RuntimeError("mat1 and mat2 shapes"), 0.0, ["x"], "edge")[0] == "unclear"
    assert fuzz.classify(None, 0.0, ["x"], "type")[0] == "silent"


def test_a_killed_worker_is_a_crash_and_the_run_goes_on(monkeypatch):
    from tools import fuzz

    def all(self, worker, workers):
        kill = lambda: os.kill(os.getpid(), signal.SIGKILL)  # what an OOM killer does
        self.probe(dict(callable="rl.f", argument="x", probe="kill", kind="argument"), kill, ["x"], "edge")
        self.probe(dict(callable="rl.f", argument="x", probe="after", kind="argument"), int, ["x"], "edge")
        return dict(no_example=[], valid_call_fails=[], skipped=[], missing_records=[])

    monkeypatch.setattr(fuzz.Run, "all", all)
    report = fuzz.run(workers=1)
    outcomes = {r["probe"]: r["outcome"] for r in report["rows"]}
    assert outcomes == {"kill": "crash", "after": "silent"}  # the probe after it ran, in a new worker
    assert report["valid_call_fails"] == []


def test_nan_in_counts_as_honest_only_when_nan_comes_out():
    import plotly.graph_objects as go
    from torch import nn

    from tools import fuzz

    assert fuzz.shows_nonfinite(torch.tensor([1.0, float("nan")]))
    assert not fuzz.shows_nonfinite(torch.tensor([1.0, 2.0]))
    assert fuzz.shows_nonfinite((0.5, float("inf"))) and not fuzz.shows_nonfinite((0.5, 0.875))
    assert fuzz.shows_nonfinite(go.Figure(go.Scatter(y=[1.0, float("nan")])))
    assert not fuzz.shows_nonfinite(go.Figure(go.Heatmap(z=[[1.0, 2.0]])))
    net = nn.Linear(2, 2)
    assert not fuzz.shows_nonfinite(net)
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    assert fuzz.shows_nonfinite(net)


def test_workers_claim_each_task_once_and_a_new_worker_resumes_the_task_its_predecessor_died_in(monkeypatch):
    import multiprocessing

    from tools import fuzz

    assert list(fuzz._claims(1, 2, 5)) == [1, 3]  # outside fuzz.run: every other task
    shared = (
        multiprocessing.RawValue("q", 0),
        multiprocessing.RawArray("q", [-1, -1]),
        multiprocessing.Lock(),
    )
    monkeypatch.setattr(fuzz, "_SHARED", shared)
    first, second = fuzz._claims(0, 2, 5), fuzz._claims(1, 2, 5)
    assert [next(first), next(second), next(second)] == [0, 1, 2]  # worker 1 took the next free task twice
    assert list(fuzz._claims(1, 2, 5)) == [2, 3, 4]  # worker 1 died in task 2: its successor resumes it
    assert list(first) == []  # nothing left to claim
