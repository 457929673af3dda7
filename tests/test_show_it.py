"""What the notebooks show besides plots: a diagram of each architecture, and every prediction recorded.

Reads the notebooks' sources and stored outputs (nbval re-runs them and compares the outputs,
so what is checked here is also what a fresh run shows).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

import nbformat
import pytest

from tests.helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Which notebook draws what: the `rl.viz.*_diagram` functions each one calls, each drawing the model
# the notebook builds (the functions' own tests check that the numbers on a drawing are the module's).
DIAGRAMS = {
    "01": {"mlp_diagram"},
    "02": {"mlp_diagram"},
    "03": {"unraveled_paths_diagram"},
    "04": {"mlp_diagram"},
    "05": {"mlp_diagram"},
    "06": {"block_diagram"},
    "07": {"block_diagram", "resnet_diagram"},
    "08": {"dense_block_diagram"},
    "09": {"unet_diagram", "hourglass_diagram"},
    "10": {"normfree_diagram"},
    "11": {"transformer_block_diagram"},
}
PROMPT = re.compile(r"predict,? then run", re.IGNORECASE)
PREDICT = re.compile(r"(\w+)\s*=\s*rl\.predictions\.predict\(\s*\"(\d\d-[a-z0-9-]+)\"")


def _cells(path):
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_draws_its_architectures_as_svg(path):
    drawn = set()
    for cell in _cells(path):
        if cell.cell_type != "code":
            continue
        svgs = [
            o["data"]["image/svg+xml"]
            for o in cell.get("outputs", [])
            if "image/svg+xml" in o.get("data", {})
        ]
        if not svgs:
            continue
        called = set(re.findall(r"rl\.viz\.(\w+_diagram)\(", cell.source))
        assert called, f"an SVG output from a cell that calls no rl.viz.*_diagram:\n{cell.source}"
        for svg in svgs:
            root = ET.fromstring(svg)  # well-formed
            assert root.tag.endswith("svg") and float(root.get("width")) > 0
        drawn |= called
    assert DIAGRAMS[path.name[:2]] <= drawn, f"{path.name} draws {sorted(drawn)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_predict_then_run_prompt_records_a_prediction_and_reveals_it(path):
    cells = _cells(path)
    number = path.name[:2]
    prompts = sum(
        len(PROMPT.findall(p)) for c in cells if c.cell_type == "markdown" for p in c.source.split("\n\n")
    )
    made = {}  # variable -> (key, cell index)
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            for var, key in PREDICT.findall(cell.source):
                assert key.startswith(f"{number}-"), f"{key}: a key starts with the notebook's number"
                made[var] = (key, i)
    assert len(made) >= prompts, f"{prompts} 'Predict, then run' prompts, {len(made)} predict(...) cells"
    for var, (key, i) in made.items():
        reveals = [j for j, c in enumerate(cells) if c.cell_type == "code" and f"{var}.reveal(" in c.source]
        assert reveals, f"{key} is never revealed"
        assert min(reveals) > i, f"{key} is revealed before it is asked"
    if made:
        closing = [j for j, c in enumerate(cells) if f'rl.predictions.summary("{number}")' in c.source]
        assert closing, "a notebook with predictions ends by comparing them with the results"
        last = max(j for var in made for j, c in enumerate(cells) if f"{var}.reveal(" in c.source)
        assert closing[-1] > last


def test_prediction_keys_are_unique_across_the_series_and_the_last_notebook_sums_them_up():
    keys = Counter(key for path in NOTEBOOKS for c in _cells(path) for _, key in PREDICT.findall(c.source))
    assert keys and max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    assert any("rl.predictions.summary()" in c.source for c in _cells(NOTEBOOKS[-1]))
