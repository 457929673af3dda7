"""`make slides`: the RISE slide type of every cell of every notebook, from rules over the cells.

    python -m tools.slides [--check] [notebook.ipynb ...]     (default: notebooks/NN_*.ipynb)

RISE (jupyterlab-rise, Alt+R in JupyterLab) reads `metadata.slideshow.slide_type` of each cell:
`slide` starts a new slide, `subslide` a slide below it, `fragment` appears on the next key press,
`-` continues the current (sub)slide, `notes` goes to the speaker view (T), `skip` is not shown.
The lecture cut, as rules:

- the title cell starts the first slide; the learning goals (with the glossary) stay on it;
- the setup cell (imports, seed, device) is skipped: it still runs with Run All;
- every `##` section starts a slide; `References` on its own a sub-slide of the summary;
  a `###` heading inside a section a sub-slide;
- a static figure or a live explorer gets a sub-slide of its own, with the short cell that
  introduces it; right after a short section heading it stays on that slide; explorers are never
  skipped;
- a derivation (markdown that is mostly math) is a sub-slide;
- long prose (the lecture's words: interpretations, asides) goes to the speaker notes, and so do
  `<details>` answers outside the exercises;
- a "Predict, then run" prompt stays on the slide and the code that answers it is a fragment;
- the exercises section (stubs, `rl.checks` cells, model answers) is skipped, and so is any exercise
  stub or cell that errors on purpose elsewhere;
- the kernel-free copies of the explorers (a markdown cell starting "No kernel" and the code cell
  calling `rl.viz.static_explorer(`) are skipped: the live explorer is on the slide.

Where the rules cut badly, `OVERRIDES` names the cell (by its nbformat cell id) and its type.
Only `metadata.slideshow` is written, and a notebook is rewritten only when it changes, as nbformat
writes it: running the tool twice changes nothing. `--check` changes nothing and exits 1 when a
notebook's metadata is not what the rules give (tests/test_slides.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

SLIDE, SUBSLIDE, FRAGMENT, CONTINUE, NOTES, SKIP = "slide", "subslide", "fragment", "-", "notes", "skip"
SLIDE_TYPES = (SLIDE, SUBSLIDE, FRAGMENT, CONTINUE, NOTES, SKIP)
SHOWN = (SLIDE, SUBSLIDE, FRAGMENT, CONTINUE)

# Thresholds, in characters of a markdown cell's source.
LONG_PROSE = 600  # at or above: speaker notes (about six lines of the notebook's 110-column prose)
SHORT_INTRO = 600  # below: a cell introducing a figure or explorer moves to its sub-slide
SHORT_HEADING = 500  # below: a section heading cell keeps the figure right after it on its slide
DERIVATION_MATH = 0.35  # at or above this share of characters inside $...$ / $$...$$: a derivation
DERIVATION_MIN = 400  # ... in a cell at least this long (a short line with a formula is not one)

# Cells the rules cut badly: notebook stem -> {cell id: slide type}. An id that is gone is an error.
OVERRIDES: dict[str, dict[str, str]] = {
    # The primer (a residual block and BN in a few lines) is lecture content, not an aside.
    "02_shattered_gradients": {"71b0f118": SUBSLIDE},
    # Section 4 is four measured points, each a bold lead-in paragraph and its code: one sub-slide each.
    "05_batch_norm_math": {"251edbb9": SUBSLIDE, "7a248122": SUBSLIDE, "12a1b300": SUBSLIDE},
}

HEADING = re.compile(r"^(#{1,3})[ \t]+(.+?)[ \t]*$", re.MULTILINE)
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"\$[^$\n]+\$")
EXPLORER = re.compile(r"\brl\.viz\.(?!static_explorer\b)\w+_explorer\(")
STATIC_EXPLORER = re.compile(r"\bstatic_explorer\(")
FIGURE = re.compile(r"\brl\.viz\.\w+_figure\(")
STUB = re.compile(r"raise NotImplementedError")
CHECK = re.compile(r"\brl\.checks\.")
NO_KERNEL = re.compile(r"^[\s>*_#]*no kernel", re.IGNORECASE)
PREDICT = re.compile(r"Predict, then run", re.IGNORECASE)
PLOTLY = "application/vnd.plotly.v1+json"


def source(cell: dict) -> str:
    """A cell's source as one string (nbformat stores a string, the JSON a list of lines)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def headings(text: str) -> list[tuple[int, str]]:
    """The markdown headings of `text` as (level, title), outside fenced code."""
    unfenced = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return [(len(m[1]), m[2]) for m in HEADING.finditer(unfenced)]


def math_share(text: str) -> float:
    """The share of `text`'s characters inside display ($$...$$) or inline ($...$) math."""
    display = sum(len(m) for m in DISPLAY_MATH.findall(text))
    inline = sum(len(m) for m in INLINE_MATH.findall(DISPLAY_MATH.sub("", text)))
    return (display + inline) / max(1, len(text))


def is_exercises(title: str) -> bool:
    return re.search(r"\bexercises?\b", title, re.IGNORECASE) is not None


def is_explorer(cell: dict) -> bool:
    """A code cell that builds a live explorer (widgets talking to the kernel)."""
    return cell["cell_type"] == "code" and EXPLORER.search(source(cell)) is not None


def is_figure(cell: dict) -> bool:
    """A code cell that draws a static figure (a reslib figure builder, or a stored plotly output)."""
    if cell["cell_type"] != "code" or is_explorer(cell):
        return False
    stored = any(PLOTLY in out.get("data", {}) for out in cell.get("outputs", []))
    return stored or FIGURE.search(source(cell)) is not None


def errors_on_purpose(cell: dict) -> bool:
    """A code cell meant to raise: an exercise stub, a `raises-exception` tag, a stored error."""
    if cell["cell_type"] != "code":
        return False
    tagged = "raises-exception" in cell.get("metadata", {}).get("tags", [])
    stored = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
    return tagged or stored or STUB.search(source(cell)) is not None


def is_static_explorer(cell: dict) -> bool:
    """The kernel-free copy of an explorer: its 'No kernel' note, or the code that builds it."""
    if cell["cell_type"] == "markdown":
        return NO_KERNEL.match(source(cell)) is not None
    return cell["cell_type"] == "code" and STATIC_EXPLORER.search(source(cell)) is not None


def _markdown_type(text: str, first: bool) -> str:
    """The slide type of a markdown cell outside the exercises, from its text alone."""
    found = headings(text)
    if first and any(level == 1 for level, _ in found):
        return SLIDE
    if text.lstrip().startswith("**Learning goals"):
        return CONTINUE
    sections = [title for level, title in found if level == 2]
    if sections:
        return SUBSLIDE if sections[0].strip().lower() == "references" else SLIDE
    if text.lstrip().startswith("<details"):
        return NOTES
    if any(level == 3 for level, _ in found):
        return SUBSLIDE
    if PREDICT.search(text) and len(text) < LONG_PROSE + 200:
        return CONTINUE  # the question stays in view; the answer is a fragment
    if math_share(text) >= DERIVATION_MATH and len(text) >= DERIVATION_MIN:
        return SUBSLIDE
    if len(text) >= LONG_PROSE:
        return NOTES
    return CONTINUE


def slide_types(cells: Sequence[dict], overrides: dict[str, str] | None = None) -> list[str]:
    """The slide type of each cell, by the rules of this module's docstring, then `overrides`.

    Args:
        cells: a notebook's cells, as nbformat reads them (dicts with `cell_type`, `source`, ...).
        overrides: cell id -> slide type, applied last.

    Returns:
        One of SLIDE_TYPES per cell.
    """
    types: list[str] = []
    in_exercises, setup_seen, first_markdown = False, False, True
    for i, cell in enumerate(cells):
        text = source(cell)
        if is_static_explorer(cell):
            kind = SKIP
        elif cell["cell_type"] == "markdown":
            sections = [title for level, title in headings(text) if level == 2]
            if sections:  # a section starts here; it is the exercises if its last heading says so
                kind = SKIP if is_exercises(sections[0]) else _markdown_type(text, first_markdown)
                in_exercises = is_exercises(sections[-1])
            elif in_exercises:
                kind = SKIP
            else:
                kind = _markdown_type(text, first_markdown)
            first_markdown = False
        elif cell["cell_type"] == "code":
            j = i - 1  # the cell before, passing over the skipped kernel-free copy of an explorer
            while j >= 0 and is_static_explorer(cells[j]):
                j -= 1
            if not setup_seen and re.search(r"^import reslib\b", text, re.MULTILINE):
                kind, setup_seen = SKIP, True
            elif is_explorer(cell):
                kind = SUBSLIDE  # never skipped, even inside the exercises
            elif in_exercises or errors_on_purpose(cell) or CHECK.search(text):
                kind = SKIP
            elif is_figure(cell):
                kind = SUBSLIDE
            elif j >= 0 and cells[j]["cell_type"] == "markdown" and types[j] in SHOWN:
                kind = FRAGMENT if PREDICT.search(source(cells[j])) else CONTINUE
            else:
                kind = CONTINUE
            if kind == SUBSLIDE and j >= 0 and cells[j]["cell_type"] == "markdown":
                before, length = types[j], len(source(cells[j]))
                if before in (SLIDE, SUBSLIDE) and length < SHORT_HEADING:
                    kind = CONTINUE  # a short heading and its figure: one slide
                elif before == CONTINUE and length < SHORT_INTRO:
                    types[j], kind = SUBSLIDE, CONTINUE  # the intro moves to the figure's slide
        else:  # raw cells
            kind = SKIP
        types.append(kind)
    for cell_id, kind in (overrides or {}).items():
        index = next((i for i, c in enumerate(cells) if c.get("id") == cell_id), None)
        if index is None:
            raise KeyError(f"OVERRIDES names cell {cell_id!r}, which this notebook no longer has")
        if kind not in SLIDE_TYPES:
            raise ValueError(f"OVERRIDES gives cell {cell_id!r} the type {kind!r}; use one of {SLIDE_TYPES}")
        types[index] = kind
    return types


def stored_types(nb: nbformat.NotebookNode) -> list[str | None]:
    """Each cell's `metadata.slideshow.slide_type` as stored (None where there is none)."""
    return [cell.get("metadata", {}).get("slideshow", {}).get("slide_type") for cell in nb.cells]


def expected_types(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    """What the rules and `OVERRIDES` give for the notebook at `path`."""
    return slide_types(nb.cells, OVERRIDES.get(path.stem))


def apply(path: Path, write: bool = True) -> bool:
    """Set every cell's slide type in the notebook at `path`; True if anything changed.

    Only `metadata.slideshow` is touched (any other key of it is replaced), and the file is
    written only when it changes, as nbformat writes it.
    """
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    for cell, kind in zip(nb.cells, expected_types(path, nb), strict=True):
        cell.metadata["slideshow"] = {"slide_type": kind}
    new = nbformat.writes(nb) + "\n"
    if new == text:
        return False
    if write:
        path.write_text(new, encoding="utf-8")
    return True


def notebooks() -> list[Path]:
    """The series: notebooks/NN_*.ipynb (not the solutions)."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def summary(path: Path) -> str:
    """One line: how many cells of each slide type the notebook has."""
    nb = nbformat.read(path, as_version=4)
    counts = {kind: 0 for kind in SLIDE_TYPES}
    for kind in stored_types(nb):
        counts[kind or CONTINUE] += 1
    return f"{path.name:<40}" + "  ".join(f"{k} {n:>2}" for k, n in counts.items())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is stale")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    stale = []
    for path in args.paths or notebooks():
        if apply(path, write=not args.check):
            stale.append(path)
        if not args.check:
            print(summary(path))
    if args.check and stale:
        print("slide metadata out of date (run `make slides`):", *(p.name for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
