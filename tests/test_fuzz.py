"""Every public callable of reslib, fed bad arguments one at a time (`tools/fuzz.py`, own process).

Discovery is automatic: a new function in any `__all__` is probed without editing this test, and
the test fails until `tools/fuzz.py` knows one valid call for it. Passing means: every wrong type
raised a TypeError naming the argument, every NaN float a ValueError naming it, every edge value
(-1, 0, 10**12, inf, 'bogus') either worked or raised a clear error, nothing hung past the time
limit, and nothing allocated past the address-space cap the run sets for itself.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_bad_argument_gets_a_clear_error(tmp_path, capsys):
    out = tmp_path / "fuzz.json"
    run = subprocess.run(
        [sys.executable, "-m", "tools.fuzz", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # argument checks are device-free; CUDA's
        # reserved address space would not fit under the run's address-space cap
    )
    assert out.exists(), run.stderr[-3000:]  # it crashed before writing its report
    report = json.loads(out.read_text())
    with capsys.disabled():  # the counts belong in the test log: make test prints them
        print("\n" + run.stdout.split("\nno_example")[0].split("\nvalid_call")[0].split("\nsilent")[0])
    assert report["no_example"] == [], "add a valid call to tools/fuzz.py EXAMPLES or VALID"
    assert report["valid_call_fails"] == [], "a valid example call failed"
    bad = [r for r in report["rows"] if r["outcome"] in ("silent", "unclear", "hang")]
    assert not bad, "\n".join(f"{r['callable']}({r['argument']}={r['probe']}): {r['message']}" for r in bad)
    callables = {r["callable"] for r in report["rows"]}
    assert len(callables) >= 150 and len(report["rows"]) >= 3500  # it did probe the package
    assert report["peak_rss_gib"] < 2.0
    assert run.returncode == 0, run.stderr[-3000:]  # nothing found: the run says so too


@pytest.mark.parametrize("finding", [None, "silent", "unclear", "hang", "no_example", "valid_call_fails"])
def test_main_exits_1_on_any_finding(monkeypatch, capsys, finding):
    from tools import fuzz

    row = dict(callable="rl.f", argument="x", probe="-1", outcome="clear", message="x must be >= 0")
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
