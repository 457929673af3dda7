"""Every notebook, run in a real JupyterLab in Chromium: no errors, and every explorer redraws.

Playwright drives Debian's Chromium (no browser download); the server is the
`lab` fixture, on 127.0.0.1 with a token, serving a copy of the notebooks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import CHROMIUM, Lab, notebooks_dir

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Tracebacks shown in any output (tqdm's progress on stderr is not an error).
ERRORS = """() => Array.from(document.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"],'
  + '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
  .map(e => e.textContent).filter(t => /Traceback|Error/.test(t))"""
# Done when every code cell has an execution count, or when an error stopped Run All.
RUN_ALL_DONE = f"""() => {{
  const prompts = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'));
  const busy = prompts.some(p => p.textContent.includes('*'));
  return (!busy && ({ERRORS})().length > 0)
    || (prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)));
}}"""
STARTED = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
  .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
PLOT_DATA = "el => JSON.stringify(el.data.map(d => [d.x, d.y, d.visible]))"
NOTEBOOKS = sorted(p.name for p in notebooks_dir().glob("*.ipynb"))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("RESLIB_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    return target


def changed(page, plots, before: list[str], timeout_s: float = 5.0) -> bool:
    """Wait until the data of at least one plot differs from `before`."""
    for _ in range(int(timeout_s / 0.25)):
        if [p.evaluate(PLOT_DATA) for p in plots] != before:
            return True
        page.wait_for_timeout(250)
    return False


def run_all(page, attempts: int = 4) -> None:
    """Run → Run All Cells, retried: right after the kernel connects, the command is sometimes lost."""
    for _ in range(attempts):
        page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
        page.click("li.lm-Menu-item:has-text('Run All Cells')")
        try:
            page.wait_for_function(STARTED, timeout=15_000, polling=250)
            return
        except Exception:
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells never started executing")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_explorers_respond(lab: Lab, browser, name: str, tmp_path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)

    shots = screenshot_dir(tmp_path)
    run_all(page)
    try:
        page.wait_for_function(RUN_ALL_DONE, timeout=240_000, polling=500)
    except Exception:
        page.screenshot(path=str(shots / f"{Path(name).stem}-timeout.png"))
        raise
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    errors = page.evaluate(ERRORS)
    assert not errors, f"{name} shows errors:\n" + "\n---\n".join(e[-1500:] for e in errors)

    selector = ".jp-OutputArea-output:has(.js-plotly-plot):has(.widget-slider, .widget-dropdown)"
    try:  # widgets render a moment after their cell finishes
        page.wait_for_selector(selector, state="attached", timeout=30_000)
    except Exception as exc:
        page.screenshot(path=str(shots / f"{Path(name).stem}-no-explorer.png"))
        raise AssertionError(f"{name} shows no live explorer (a plot with a slider or dropdown)") from exc
    explorers = page.locator(selector)
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        explorer.scroll_into_view_if_needed()
        plots = [explorer.locator(".js-plotly-plot").nth(j)
                 for j in range(explorer.locator(".js-plotly-plot").count())]
        for k in range(explorer.locator(".widget-slider .noUi-handle").count()):
            before = [p.evaluate(PLOT_DATA) for p in plots]
            explorer.locator(".widget-slider .noUi-handle").nth(k).focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            if not changed(page, plots, before):  # at the slider's top end: go the other way
                for _ in range(6):
                    page.keyboard.press("ArrowLeft")
                assert changed(page, plots, before), f"{name}: explorer {i}, slider {k} did not redraw"
        for k in range(explorer.locator(".widget-dropdown select").count()):
            select = explorer.locator(".widget-dropdown select").nth(k)
            options = select.locator("option").all_text_contents()
            current = select.input_value()
            other = next(o for o in options if o != current)
            before = [p.evaluate(PLOT_DATA) for p in plots]
            select.select_option(label=other)
            assert changed(page, plots, before), f"{name}: explorer {i}, dropdown {k} did not redraw"
        status = explorer.locator(".widget-html").all_text_contents()
        assert not any("could not draw" in s for s in status), status
    page.screenshot(path=str(shots / f"{Path(name).stem}.png"))
    page.close()
