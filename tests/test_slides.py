"""Lecture mode (tools/slides.py): every notebook carries the RISE slide types its rules give."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from reslib.viz.registry import EXPLORERS
from tools import slides

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = slides.notebooks()
# Not the tool's own pattern: a cell that builds a live explorer calls one registered in reslib.viz.
LIVE_EXPLORER = re.compile(r"\brl\.viz\.(" + "|".join(sorted(EXPLORERS)) + r")\(")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def md(text: str) -> dict:
    return nbformat.v4.new_markdown_cell(text)


def code(text: str, **kw) -> dict:
    return nbformat.v4.new_code_cell(text, **kw)


def test_the_series_is_found():
    assert len(NOTEBOOKS) >= 10 and all(p.name[:2].isdigit() for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_stored_slide_types_are_what_the_tool_gives(path):
    nb = read(path)
    stored, expected = slides.stored_types(nb), slides.expected_types(path, nb)
    wrong = [
        f"cell {i} ({c.cell_type}, id {c.get('id')}): stored {s!r}, rules give {e!r}"
        for i, (c, s, e) in enumerate(zip(nb.cells, stored, expected, strict=True))
        if s != e
    ]
    assert not wrong, f"{path.name}: slide metadata out of date, run `make slides`:\n" + "\n".join(wrong[:10])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_lecture_cut(path):
    types = slides.stored_types(read(path))
    assert types[0] == slides.SLIDE, f"{path.name} must start with a slide (its title)"
    n_slides, n_sub = types.count(slides.SLIDE), types.count(slides.SUBSLIDE)
    assert 5 <= n_slides <= 14, f"{path.name}: {n_slides} slides (a section each: expected 5-14)"
    assert n_slides + n_sub <= 30, f"{path.name}: {n_slides + n_sub} slides and sub-slides, over 30"
    shown = sum(t in slides.SHOWN for t in types)
    assert shown >= len(types) / 3, f"{path.name}: only {shown} of {len(types)} cells on the slides"


def live_explorers(path: Path) -> list[tuple[int, str]]:
    """(cell index, stored slide type) of each cell that builds a live explorer."""
    nb = read(path)
    return [
        (i, t)
        for i, (c, t) in enumerate(zip(nb.cells, slides.stored_types(nb), strict=True))
        if c.cell_type == "code" and LIVE_EXPLORER.search(c.source) and "static_explorer(" not in c.source
    ]


def test_the_series_explorers_are_found():
    assert sum(len(live_explorers(p)) for p in NOTEBOOKS) >= len(EXPLORERS)  # each shown live at least once


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_live_explorers_are_on_the_slides(path):
    hidden = [i for i, t in live_explorers(path) if t not in slides.SHOWN]
    assert not hidden, f"{path.name}: the explorers of cells {hidden} are skipped or in the notes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stubs_checks_and_failing_cells_are_skipped(path):
    nb = read(path)
    for i, (cell, kind) in enumerate(zip(nb.cells, slides.stored_types(nb), strict=True)):
        if cell.cell_type != "code":
            continue
        stub = "raise NotImplementedError" in cell.source or "rl.checks." in cell.source
        fails = "raises-exception" in cell.metadata.get("tags", []) or any(
            out.get("output_type") == "error" for out in cell.get("outputs", [])
        )
        if stub or fails:
            assert kind == slides.SKIP, (
                f"{path.name} cell {i}: an exercise stub or failing cell shown as {kind!r}"
            )


def test_the_rules_on_a_made_up_notebook():
    cells = [
        md("# 99 · Title\n\nA hook."),
        md("**Learning goals.** After this notebook you can\n- **derive** x\n\n| term | 한국어 |"),
        code("import torch\n\nimport reslib as rl\n\nSEED = 0"),
        md("## 1 · A section\n\nShort story.\n\n> **Predict, then run.** What is 2 + 2?"),
        code("print(2 + 2)"),  # the answer to the prompt: a fragment
        md("$$a = b + c$$ and so $$d = e + f + g + h + i + j + k + l + m + n + o + p$$ " * 6),  # derivation
        code("x = 1"),
        md("Long interpretation. " * 40),  # speaker notes
        md("<details><summary>Answer</summary>\n\nIt is 4.\n\n</details>"),  # an answer: notes
        md("## 2 · Explore\n\nMove the slider."),
        code("rl.viz.variance_figure()"),  # right after a short heading: on its slide
        md("No kernel? Drag this one: it was computed in advance."),
        code("rl.viz.static_explorer(rl.viz.variance_explorer)"),
        md("Now move the sliders."),
        code("rl.viz.variance_explorer()"),  # its own sub-slide, with its intro
        code("def f():\n    raise NotImplementedError"),
        md("## 3 · Exercises\n\n**Exercise 1.** Write f."),
        code("def g(x):\n    # your code here\n    raise NotImplementedError"),
        code("rl.checks.check_g(g)"),
        md("<details><summary>Model answer (try first)</summary>\n\nx\n\n</details>"),
        md("## Summary\n\n- one\n- two"),
        md("## References\n\n- a paper"),
    ]
    S, SUB, F, C, N, K = (
        slides.SLIDE,
        slides.SUBSLIDE,
        slides.FRAGMENT,
        slides.CONTINUE,
        slides.NOTES,
        slides.SKIP,
    )
    assert slides.slide_types(cells) == [
        S,
        C,
        K,
        S,
        F,
        SUB,
        C,
        N,
        N,
        S,
        C,
        K,
        K,
        SUB,
        C,
        K,
        K,
        K,
        K,
        K,
        S,
        SUB,
    ]


def test_a_kernel_free_copy_between_an_explorer_and_its_intro_changes_nothing():
    live = [md("## 1 · Explore"), code("x = 1"), md("Move the sliders."), code("rl.viz.path_explorer()")]
    copy = [md("**No kernel?** Drag this one."), code("rl.viz.static_explorer(rl.viz.path_explorer)")]
    alone = slides.slide_types(live)
    assert slides.slide_types([*live[:3], *copy, live[3]]) == [*alone[:3], slides.SKIP, slides.SKIP, alone[3]]
    assert slides.slide_types([*live, *copy]) == [*alone, slides.SKIP, slides.SKIP]


def test_an_explorer_is_never_skipped_and_overrides_apply():
    cells = [
        md("# 1 · T"),
        md("## 1 · Exercises"),
        code(
            "rl.viz.path_explorer()",
        ),
    ]
    cells[1]["id"], cells[2]["id"] = "ex", "pe"
    assert slides.slide_types(cells)[2] == slides.SUBSLIDE
    assert slides.slide_types(cells, {"ex": slides.NOTES})[1] == slides.NOTES
    with pytest.raises(KeyError, match="no longer has"):
        slides.slide_types(cells, {"gone": slides.SKIP})
    with pytest.raises(ValueError, match="one of"):
        slides.slide_types(cells, {"ex": "sideways"})


def test_every_override_names_a_cell_of_its_notebook():
    for stem, table in slides.OVERRIDES.items():
        path = ROOT / "notebooks" / f"{stem}.ipynb"
        assert path.exists(), f"OVERRIDES names {stem}, which is not a notebook"
        ids = {c.get("id") for c in read(path).cells}
        assert set(table) <= ids, f"{stem}: OVERRIDES names cells {set(table) - ids} it does not have"


def test_the_tool_is_idempotent_and_writes_only_slide_metadata(tmp_path):
    original = NOTEBOOKS[0]
    path = tmp_path / original.name
    shutil.copy(original, path)
    assert not slides.apply(path), "the committed notebook is not what the tool writes: run `make slides`"
    assert path.read_bytes() == original.read_bytes()

    nb = json.loads(path.read_text(encoding="utf-8"))  # as an editor that drops the metadata leaves it
    for cell in nb["cells"]:
        cell["metadata"].pop("slideshow")
        cell["metadata"]["tags"] = ["kept"]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert slides.main(["--check", str(path)]) == 1
    assert slides.apply(path) and not slides.apply(path)  # once changes, twice does not
    after = json.loads(path.read_text(encoding="utf-8"))
    before = json.loads(original.read_text(encoding="utf-8"))
    for a, b in zip(after["cells"], before["cells"], strict=True):
        assert a["metadata"].pop("tags") == ["kept"]
        assert a == b  # sources, outputs, ids and the slide types as committed
    assert path.read_text(encoding="utf-8") == nbformat.writes(nbformat.read(path, as_version=4)) + "\n"


def test_check_mode_says_what_to_run(tmp_path, capsys):
    path = tmp_path / "00_stale.ipynb"
    nb = nbformat.v4.new_notebook(cells=[md("# 00 · Stale"), code("1 + 1")])
    nbformat.write(nb, path)
    before = path.read_text()
    assert slides.main(["--check", str(path)]) == 1
    assert "make slides" in capsys.readouterr().err and path.read_text() == before
    assert slides.main([str(path)]) == 0 and slides.main(["--check", str(path)]) == 0


def test_make_slides_runs_the_tool():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nslides: install\n", 1)[1].split("\n\n", 1)[0]
    assert "-m tools.slides" in recipe
