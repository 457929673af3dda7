"""Notebook hygiene: what nbval cannot see (size, stripped widget state, structure)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_series_starts_with_notebook_01():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_sequential_networks.ipynb"
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small_stripped_and_executed(path):
    assert path.stat().st_size < 2_000_000
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], "strip the widget state: make outputs"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "store outputs: make outputs"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_template(path):
    nb = json.loads(path.read_text())
    text = ["".join(c["source"]) for c in nb["cells"]]
    markdown = "\n".join(t for c, t in zip(nb["cells"], text, strict=True) if c["cell_type"] == "markdown")
    assert text[0].startswith(f"# {path.name[:2]} · ")
    for heading in ("Learning goals", "| key term | 한국어 |", "Exercises", "Summary", "References"):
        assert heading in markdown, f"{path.name} lacks '{heading}'"
    code = "\n".join(t for c, t in zip(nb["cells"], text, strict=True) if c["cell_type"] == "code")
    assert "rl.checks.check_" in code and "raise NotImplementedError" in code
    assert "cuda" not in code.replace("rl.device()", ""), "never hard-code a device"
    assert "get_dataset(" not in code and "torch.load(" not in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_plots_and_widgets_are_not_compared_by_nbval(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        kinds = {k for o in cell["outputs"] for k in o.get("data", {})}
        if kinds & {"application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json"}:
            assert "# NBVAL_IGNORE_OUTPUT" in "".join(cell["source"]), "".join(cell["source"])[:80]
