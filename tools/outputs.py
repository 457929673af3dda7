"""Re-execute notebooks and store their outputs, without the widget state.

    python -m tools.outputs notebooks/*.ipynb

nbval compares these stored outputs on every `make test`. The widget state
(which embeds plotly.js, ~5 MB) is not stored: it would make every notebook
too large to review, and a widget needs a live kernel anyway.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MAX_BYTES = 2_000_000


def execute(path: Path) -> float:
    """Run `path` top to bottom in a fresh kernel and write it back; return the seconds taken.

    The kernel saves predictions to a file of its own, so the stored outputs never show the
    guesses of whoever ran this (see `reslib.predictions`).
    """
    nb = nbformat.read(path, as_version=4)
    os.environ["RESLIB_PREDICTIONS"] = str(Path(tempfile.mkdtemp()) / "predictions.json")
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is {size / 1e6:.1f} MB after execution; the budget is 2 MB")
    return seconds


def main(paths: list[str]) -> None:
    if not paths:
        raise SystemExit("usage: python -m tools.outputs NOTEBOOK.ipynb ...")
    for p in paths:
        seconds = execute(Path(p))
        print(f"{p}: executed in {seconds:.1f} s, {Path(p).stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main(sys.argv[1:])
