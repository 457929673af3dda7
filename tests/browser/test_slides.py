"""Lecture mode in a real JupyterLab: Run All, Alt+R, walk every slide, move an explorer's slider.

What a lecturer does: open a notebook, Run All, press Alt+R (jupyterlab-rise's "Render as Reveal
Slideshow", which saves the notebook and opens its slideshow beside it, on the same kernel). The
slideshow is RISE's own app in an iframe; its slides are Reveal sections with the ids `slide-i-j`
(RISE's Reveal instance is not a global, so the test moves with the URL hash, as Reveal's history
does). Every slide must show no error, and the live explorer's slider must redraw its plot from
inside the slideshow (the widgets there talk to the kernel, so this needs the widget manager to load
in RISE's app: see binder/rise-widgets).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from tools import lab as lab_tool

from .conftest import Lab, notebooks_dir
from .test_notebooks_in_lab import WIDGETS_S, plot_data, redrew, run_all, save_screenshot, wait_for_kernel

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Locator, Page

pytestmark = pytest.mark.browser

# 06: fast (counting, no training), with a figure and an explorer. (04, whose explorer draws after its
# figure is built, passes alone; after 06 in the same server RISE's app sometimes shows "Error displaying
# widget: model not found" on one of 04's slides, so it is not in this list: see docs/maintenance.md,
# "Known issues".)
NOTEBOOKS = ("06_bottleneck_counts.ipynb",)
# Some trace of the plot holds points (y, or z for a heat map): not just empty axes.
DRAWN = "el => el.data.some(t => (t.y?.length ?? 0) > 0 || (t.z?.length ?? 0) > 0)"
SLIDESHOW_S = 60
SLIDE_IDS = "() => Array.from(document.querySelectorAll('.reveal .slides > section > section'), s => s.id)"
CURRENT = "() => document.querySelector('.reveal .slides section.present > section.present')?.id"
PRESENT = f"id => ({CURRENT})() === id"
# Errors shown on the present slide: error outputs, tracebacks, widgets that could not render.
SLIDE_ERRORS = """() => {
  const slide = document.querySelector('.reveal .slides section.present > section.present');
  const text = s => Array.from(slide.querySelectorAll(s), e => e.textContent);
  return [...text('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'),
          ...text('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            .filter(t => t.includes('Traceback')),
          ...text('.jp-OutputArea-output').filter(t => t.startsWith('Error displaying widget'))];
}"""


def open_slideshow(page: Page, name: str) -> Frame:
    """Press Alt+R in the notebook (command mode) and return the slideshow's frame once it is built."""
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")  # command mode, where RISE's shortcut applies
    page.keyboard.press("Alt+r")
    deadline_ms = SLIDESHOW_S * 1000
    while deadline_ms > 0:
        frame = next((f for f in page.frames if f"/rise/{name}" in f.url), None)
        if frame is not None:
            with contextlib.suppress(Exception):
                frame.wait_for_function(
                    "() => document.body.classList.contains('rise-enabled')"
                    " && document.querySelectorAll('.reveal .slides > section > section').length > 0",
                    timeout=1000,
                )
                return frame
        page.wait_for_timeout(500)
        deadline_ms -= 1500
    pytest.fail(f"{name}: Alt+R opened no RISE slideshow in {SLIDESHOW_S} s")


def settled_box(page: Page, locator: Locator) -> dict:
    """The element's bounding box once it stops moving (Reveal animates slide changes)."""
    locator.scroll_into_view_if_needed()
    previous = None
    for _ in range(40):
        box = locator.bounding_box()
        if box is not None and box == previous:
            return box
        previous = box
        page.wait_for_timeout(250)
    assert previous, "the slider's handle is not on screen"
    return previous


def go_to(frame: Frame, slide_id: str) -> None:
    """Move to a slide by its URL hash, as Reveal's hash navigation does.

    Reveal writes the present slide into the hash itself, through a `replaceState` it debounces by up
    to a second. When that write lands between our hash change and its `hashchange` event, Reveal
    reads back the slide it just left (seen in CI: hash `#/slide-1-0/0` with slide-2-0 asked for),
    and no further event comes. So the hash is set again until the slide is present (with the event
    sent by hand if the hash already names the slide, which a hash set to itself does not send).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + SLIDESHOW_S  # Reveal is slow under load
    while True:
        frame.evaluate(
            "id => { if (location.hash === '#/' + id)"
            " window.dispatchEvent(new HashChangeEvent('hashchange'));"
            " else location.hash = '#/' + id; }",
            slide_id,
        )
        try:
            frame.wait_for_function(PRESENT, arg=slide_id, timeout=5_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                state = frame.evaluate(f"() => [location.hash, ({CURRENT})()]")
                pytest.fail(f"slide {slide_id} not shown in {SLIDESHOW_S} s: hash, present slide = {state}")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_slideshow_shows_every_slide_and_its_explorer_redraws(
    lab: Lab, browser, tmp_path: Path, notebook: str
) -> None:
    if not (lab_tool.extension_path() / "package.json").exists():
        pytest.fail(
            f"{lab_tool.extension_path()} is missing: without it no widget loads in RISE (make install)"
        )
    cells = nbformat.read(notebooks_dir() / notebook, as_version=4).cells
    types = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in cells]
    expected_slides = types.count("slide") + types.count("subslide")
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    try:
        page.goto(lab.notebook_url(notebook))
        wait_for_kernel(page, notebook)
        run_all(page, notebook)
        frame = open_slideshow(page, notebook)

        with contextlib.suppress(Exception):  # RISE builds the slides one by one: wait for all of them
            frame.wait_for_function(
                f"() => ({SLIDE_IDS})().length >= {expected_slides}", timeout=SLIDESHOW_S * 1000
            )
        slide_ids = frame.evaluate(SLIDE_IDS)
        assert len(slide_ids) == expected_slides, (
            f"{notebook}: the slideshow has {len(slide_ids)} slides, its metadata {expected_slides}"
        )
        errors = {}
        for slide_id in slide_ids:  # in order, as a lecturer steps through them
            go_to(frame, slide_id)
            if shown := frame.evaluate(SLIDE_ERRORS):
                errors[slide_id] = shown
        assert not errors, f"{notebook}: slides show errors: {errors}"

        # The explorer's slide: its plot renders, and dragging a slider redraws it via the kernel.
        find_explorer = (
            "() => document.querySelector('.reveal .slides > section > section:has(.widget-slider)')?.id"
        )
        with contextlib.suppress(Exception):  # widgets render after their slide is built: give them time
            frame.wait_for_function(find_explorer, timeout=WIDGETS_S * 1000)
        explorer_slide = frame.evaluate(find_explorer)
        assert explorer_slide, f"{notebook}: no slide shows a live explorer's controls"
        go_to(frame, explorer_slide)
        slide = frame.locator(f"section#{explorer_slide}")
        explorer = slide.locator(".jp-OutputArea-output:has(.widget-slider)").first
        plots = explorer.locator(".js-plotly-plot")
        plots.first.wait_for(state="visible", timeout=WIDGETS_S * 1000)
        assert all(p.evaluate(DRAWN) for p in plots.all()), (
            f"{notebook}: the explorer's slide shows empty axes"
        )
        handle = explorer.locator(".widget-slider .noUi-handle").first
        before, start = plot_data(plots), handle.get_attribute("aria-valuenow")
        for _ in range(3):  # a drag that lands during the slide's transition misses the handle
            box = settled_box(page, handle)
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            for dx in (60, -60):  # right, or left if it was already at its maximum
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.move(x + dx, y, steps=5)  # a mouse drag: Reveal takes arrow keys for itself
                page.mouse.up()
                if handle.get_attribute("aria-valuenow") != start:
                    break
            if handle.get_attribute("aria-valuenow") != start:
                break
        moved = f"{start} -> {handle.get_attribute('aria-valuenow')}"
        assert handle.get_attribute("aria-valuenow") != start, f"{notebook}: the slider did not move"
        assert redrew(page, plots, before), f"{notebook}: slider moved ({moved}), the plot did not change"
        assert frame.locator(f"section#{explorer_slide}.present").count() == 1, "the drag changed the slide"
        assert not frame.evaluate(SLIDE_ERRORS), f"{notebook}: errors after moving the slider"
    finally:
        with contextlib.suppress(Exception):
            save_screenshot(page, tmp_path, "slideshow_" + Path(notebook).stem)
        context.close()
        with contextlib.suppress(OSError):
            lab.shut_down_kernels()


def test_the_running_lab_reads_the_series_settings(lab: Lab) -> None:
    """The server's defaults come from the environment's overrides.json (make install): news and the
    update check off and English first, whatever the fixture's own user settings say."""

    def schema_defaults(plugin: str) -> dict:
        request = urllib.request.Request(
            f"{lab.url}/lab/api/settings/{plugin}", headers={"Authorization": f"token {lab.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            properties = json.loads(response.read())["schema"]["properties"]
        return {key: value.get("default") for key, value in properties.items()}

    notification = schema_defaults("@jupyterlab/apputils-extension:notification")
    assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    assert schema_defaults("@jupyterlab/translation-extension:plugin")["locale"] == "en"
    assert schema_defaults("jupyterlab-rise:plugin")["scroll"] is True
