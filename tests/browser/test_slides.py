"""Every notebook in one running JupyterLab, in order: in the notebook, then in its slideshow; then one
reopened.

What a lecturer does: open a notebook, Run All, move its explorers and answer its prediction forms
(lab_view.py checks those in the notebook), press Alt+R (jupyterlab-rise's "Render as Reveal
Slideshow", which saves the notebook and opens its slideshow beside it, on the same kernel), step
through the slides, drag each explorer's slider; then the next notebook, in the same server. The
slideshow is RISE's own app in an iframe; its slides are Reveal sections with the ids `slide-i-j`
(RISE's Reveal instance is not a global, so the test moves with the URL hash, as Reveal's history
does). No slide may show an error, also once every widget view has finished loading, and every
live explorer's plot must redraw from inside the slideshow when a control moves (the widgets there
talk to the kernel, so this needs the widget manager to load in RISE's app, and to find the models
it restores: see binder/rise-widgets and tests/browser/test_rise_widgets.py).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from reslib.viz.explorer import is_explorer_note
from tools import lab as lab_tool

from .conftest import Lab, notebooks_dir
from .lab_view import (
    ARM_REDRAW_TIMER,
    PATCHED,
    REDRAW_S,
    WIDGETS_S,
    check_notebook_view,
    plot_data,
    redrew,
    run_all,
    save_screenshot,
    wait_for_kernel,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Locator, Page

pytestmark = pytest.mark.browser

# Every notebook, in the series' order, in one server (one lab fixture), as a lecturer teaches them;
# then the Korean edition's (ko/NN_...), whose slides and explorers speak Korean.
NOTEBOOKS = tuple(sorted(p.name for p in notebooks_dir().glob("*.ipynb"))) + tuple(
    f"ko/{p.name}" for p in sorted((notebooks_dir() / "ko").glob("*.ipynb"))
)
# Opened again after the walk: its saved copy holds the outputs of a kernel that is gone, and its
# slideshow is then opened twice on the new kernel. 04 is the notebook "model not found" was first
# seen on after another notebook's slideshow.
REOPENED = "04_forward_variance.ipynb"
# Some trace of the plot holds points (y, or z for a heat map): not just empty axes.
DRAWN = "el => el.data.some(t => (t.y?.length ?? 0) > 0 || (t.z?.length ?? 0) > 0)"
SLIDESHOW_S = 60
SLIDE_IDS = "() => Array.from(document.querySelectorAll('.reveal .slides > section > section'), s => s.id)"
CURRENT = "() => document.querySelector('.reveal .slides section.present > section.present')?.id"
PRESENT = f"id => ({CURRENT})() === id"
# Errors shown in a slide (the present one, or any): error outputs, tracebacks, widgets that could
# not render.
ERRORS_IN = """slide => {
  const text = s => Array.from(slide.querySelectorAll(s), e => e.textContent);
  return [...text('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'),
          ...text('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            .filter(t => t.includes('Traceback')),
          ...text('.jp-OutputArea-output').filter(t => t.startsWith('Error displaying widget'))];
}"""
SLIDE_ERRORS = (
    f"() => ({ERRORS_IN})(document.querySelector('.reveal .slides section.present > section.present'))"
)
DECK_ERRORS = f"""() => Object.fromEntries(
  Array.from(document.querySelectorAll('.reveal .slides > section > section'), s => [s.id, ({ERRORS_IN})(s)])
    .filter(([, errors]) => errors.length))"""
# Widget views still waiting for their model (a view whose widget is gone is hidden, not waiting).
LOADING = """() => Array.from(document.querySelectorAll('.reveal .jp-OutputArea-output'))
  .filter(o => !o.classList.contains('lm-mod-hidden') && o.textContent.startsWith('Loading widget')).length"""
# The slides holding a live explorer: a widget output with a control and a plot.
EXPLORER = ".jp-OutputArea-output:has(.widget-slider, .widget-dropdown):has(.js-plotly-plot)"
EXPLORER_SLIDES = f"""() => Array.from(document.querySelectorAll('.reveal .slides > section > section'))
  .filter(s => s.querySelector('{EXPLORER}')).map(s => s.id)"""
WALKED = "reslibWalked"  # set on a slideshow's window once walked, to tell a reloaded one from it
# Messages binder/rise-widgets kept for anywidget models whose start took past anywidget's 2 s wait
# (without it, such a model dropped them: a plot that never redrew; docs/maintenance.md).
KEPT = "() => window._JUPYTERLAB?.['reslib-rise-widgets']?.state?.kept ?? 0"
# Slider-to-redraw in the slideshow, as the lab test measures it in the notebook (ARM_REDRAW_TIMER):
# from the slider's first value change in a drag to the first plot of its explorer that plotly.js
# redraws, in ms (summed up at the end of the run by tests/browser/conftest.py).
SLIDES_REDRAW_MS: list[float] = []
# Plotly messages the notebook's own views held while its slideshow drew (binder/rise-widgets, part
# 4: a view off screen draws once it shows), per notebook; summed up at the end of the run.
HELD_BEHIND_SLIDES: dict[str, int] = {}
HELD = "() => window._JUPYTERLAB?.['reslib-rise-widgets']?.state?.held ?? 0"


def open_slideshow(page: Page, name: str) -> Frame:
    """Press Alt+R in the notebook (command mode); return the new slideshow's frame once it is built.

    A frame already walked (marked with WALKED) is not new: pressing Alt+R again reloads it.
    """
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")  # command mode, where RISE's shortcut applies
    page.keyboard.press("Alt+r")
    deadline = time.monotonic() + SLIDESHOW_S
    while time.monotonic() < deadline:
        for frame in (f for f in page.frames if f"/rise/{name}" in f.url):
            with contextlib.suppress(Exception):
                frame.wait_for_function(
                    f"() => !window.{WALKED} && document.body.classList.contains('rise-enabled')"
                    " && document.querySelectorAll('.reveal .slides > section > section').length > 0",
                    timeout=1000,
                )
                return frame
        page.wait_for_timeout(500)
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


def live_explorers(notebook: str) -> int:
    """How many live explorers the notebook shows on its slides: its stored explorer outputs (a
    widget view whose text is an explorer's note, in English or Korean) in cells the slideshow keeps."""
    count = 0
    for cell in nbformat.read(notebooks_dir() / notebook, as_version=4).cells:
        if cell.metadata.get("slideshow", {}).get("slide_type") in ("skip", "notes"):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            note = data.get("text/plain", "")
            count += "application/vnd.jupyter.widget-view+json" in data and is_explorer_note(note)
    return count


def diagrams(notebook: str) -> int:
    """How many architecture diagrams (SVG outputs) the notebook shows in cells its slideshow keeps."""
    return sum(
        "image/svg+xml" in output.get("data", {})
        for cell in nbformat.read(notebooks_dir() / notebook, as_version=4).cells
        if cell.metadata.get("slideshow", {}).get("slide_type") not in ("skip", "notes")
        for output in cell.get("outputs", [])
    )


def drag(page: Page, handle: Locator, dx: int, on_press: Callable[[], object] = lambda: None) -> None:
    """Drag a slider's handle `dx` pixels with the mouse (Reveal takes arrow keys for itself);
    `on_press` runs just before the button goes down (once the handle has stopped moving)."""
    box = settled_box(page, handle)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    on_press()
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=5)
    page.mouse.up()


def arm_redraw_timer(plots: Locator, handle: Locator) -> None:
    """Arm the slider-to-redraw clock in the slideshow's own frame (a measurement only)."""
    with contextlib.suppress(Exception):
        handle.evaluate(
            f"(handle, plots) => ({ARM_REDRAW_TIMER})({{plots, handle}})", plots.element_handles()
        )


def move_a_control(page: Page, explorer: Locator, where: str) -> None:
    """Move the explorer's first slider (or its first dropdown) until a plot redraws.

    The slider is dragged right and left by growing steps, from a short drag (a step or a few, as
    the notebook test's arrow key moves it, so the two redraw times compare) to half the track (a
    slider of two values needs that): a drag that does not move it, or a value that redraws nothing
    (an explorer says so when its grid holds nothing there), is not yet a failure; eight drags
    without a redraw are: the failure says whether the kernel answered (the explorer's status line
    changed), that is, whether the slideshow's plot stayed stale while the kernel redrew.
    """
    plots = explorer.locator(".js-plotly-plot")
    plots.first.wait_for(state="visible", timeout=WIDGETS_S * 1000)
    assert all(p.evaluate(DRAWN) for p in plots.all()), f"{where}: the explorer shows empty axes"
    status = explorer.locator(".widget-html").first

    def said() -> str | None:
        return status.text_content() if status.count() else None

    moves, answered = [], False  # answered: the status line changed after a move
    if explorer.locator(".widget-slider .noUi-handle").count():
        handle = explorer.locator(".widget-slider .noUi-handle").first
        for dx in (15, -15, 60, -60, 150, -150, 300, -300):
            before, start, line = plot_data(plots), handle.get_attribute("aria-valuenow"), said()
            for _ in range(3):  # a drag that lands during the slide's transition misses the handle
                drag(page, handle, dx, on_press=lambda: arm_redraw_timer(plots, handle))
                if handle.get_attribute("aria-valuenow") != start:
                    break
            moves.append(f"slider {start} -> {handle.get_attribute('aria-valuenow')}")
            if handle.get_attribute("aria-valuenow") != start and redrew(page, plots, before):
                with contextlib.suppress(Exception):  # a measurement only: never the test's failure
                    if (ms := plots.first.evaluate("() => window.redrawMs")) is not None:
                        SLIDES_REDRAW_MS.append(ms)
                return
            answered |= said() != line
    else:
        select = explorer.locator(".widget-dropdown select").first
        for value in select.locator("option").evaluate_all("os => os.map(o => o.value)"):
            if value != select.input_value():
                before, line = plot_data(plots), said()
                select.select_option(value=value)
                moves.append(f"dropdown -> {value!r}")
                if redrew(page, plots, before):
                    return
                answered |= said() != line
    tried = f"{where}: no plot changed after {', '.join(moves) or 'no move'}"
    if answered:
        kept = explorer.evaluate(f"_ => ({KEPT})()")
        pytest.fail(
            f"{tried}: the kernel redrew (the status line changed), the slideshow's plot did not "
            f"(binder/rise-widgets kept {kept} anywidget messages in this slideshow)"
        )
    pytest.fail(tried + " (and the explorer's status line did not change: the kernel did not answer)")


def walk_slideshow(page: Page, frame: Frame, notebook: str) -> None:
    """Step through every slide (every diagram of the notebook drawn on one), then move a control of
    every explorer on its slide; then, once every widget view has loaded, no slide of the deck may
    show an error."""
    cells = nbformat.read(notebooks_dir() / notebook, as_version=4).cells
    types = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in cells]
    expected_slides = types.count("slide") + types.count("subslide")
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
    shown = frame.evaluate("() => document.querySelectorAll('.reveal .slides .jp-RenderedSVG').length")
    assert shown == diagrams(notebook), (
        f"{notebook}: {shown} diagrams on its slides, {diagrams(notebook)} in it"
    )

    # Every live explorer, on its own slide: its plot renders and redraws via the kernel.
    expected = live_explorers(notebook)
    count = f"() => document.querySelectorAll('.reveal .slides {EXPLORER}').length >= {expected}"
    with contextlib.suppress(Exception):  # widgets render after their slide is built: give them time
        frame.wait_for_function(count, timeout=WIDGETS_S * 1000)
    explorer_slides = frame.evaluate(EXPLORER_SLIDES)
    seen = 0
    for slide_id in explorer_slides:
        go_to(frame, slide_id)
        explorers = frame.locator(f"section#{slide_id} {EXPLORER}")
        for k in range(explorers.count()):
            move_a_control(page, explorers.nth(k), f"{notebook}, slide {slide_id}, explorer {k}")
            seen += 1
        assert frame.locator(f"section#{slide_id}.present").count() == 1, "a control changed the slide"
    assert seen == expected, f"{notebook}: {seen} live explorers on its slides, {expected} in the notebook"

    with contextlib.suppress(Exception):  # a widget view renders once the manager has its model
        frame.wait_for_function(f"() => ({LOADING})() === 0", timeout=WIDGETS_S * 1000)
    assert frame.evaluate(LOADING) == 0, f"{notebook}: widget views still loading after {WIDGETS_S} s"
    assert not (late := frame.evaluate(DECK_ERRORS)), f"{notebook}: slides show errors once loaded: {late}"
    if expected:  # the widget manager consumed base-manager through binder/rise-widgets
        assert frame.evaluate(PATCHED) >= 1, f"{notebook}: binder/rise-widgets' get_model fix is not active"
    frame.evaluate(f"() => {{ window.{WALKED} = true; }}")


def check_notebook_caught_up(page: Page, frame: Frame, notebook: str) -> None:
    """The notebook's own explorer plots, which did not draw while off screen behind the slideshow,
    show what the slideshow's show once scrolled into view: each the same data as its twin there."""
    mine = page.locator(f".jp-Notebook {EXPLORER}")
    theirs = frame.locator(f".reveal .slides {EXPLORER}")
    assert mine.count() == theirs.count(), (
        f"{notebook}: {mine.count()} live explorers in the notebook, {theirs.count()} on its slides"
    )
    HELD_BEHIND_SLIDES[notebook] = page.evaluate(HELD)
    for k in range(mine.count()):
        plots, twins = mine.nth(k).locator(".js-plotly-plot"), theirs.nth(k).locator(".js-plotly-plot")
        plots.last.scroll_into_view_if_needed()
        want = plot_data(twins)
        for _ in range(REDRAW_S * 4):
            if plot_data(plots) == want:
                break
            page.wait_for_timeout(250)
        assert plot_data(plots) == want, (
            f"{notebook}, explorer {k}: once scrolled into view, the notebook's plot does not show what "
            f"its slideshow's shows (binder/rise-widgets held {page.evaluate(HELD)} plotly messages here)"
        )


def require_extension() -> None:
    if not (lab_tool.extension_path() / "package.json").exists():
        pytest.fail(
            f"{lab_tool.extension_path()} is missing: without it no widget loads in RISE (make install)"
        )


@contextlib.contextmanager
def lab_page(lab: Lab, browser: Browser, tmp_path: Path, stem: str):
    """A page of its own for one notebook; afterwards a screenshot, and its kernels shut down."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        with contextlib.suppress(Exception):
            save_screenshot(page, tmp_path, "slideshow_" + stem)
        context.close()
        with contextlib.suppress(OSError):
            lab.shut_down_kernels()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_notebook_and_its_slideshow_run_and_their_explorers_redraw(
    lab: Lab, browser: Browser, tmp_path: Path, notebook: str
) -> None:
    """Run All shows no error; in the notebook every explorer redraws and every prediction form
    commits (lab_view.py); then its slideshow shows every slide, and its explorers redraw there."""
    require_extension()
    with lab_page(lab, browser, tmp_path, notebook.removesuffix(".ipynb").replace("/", "-")) as page:
        page.goto(lab.notebook_url(notebook))
        wait_for_kernel(page, notebook)
        run_all(page, notebook)
        check_notebook_view(page, notebook)
        frame = open_slideshow(page, notebook)
        walk_slideshow(page, frame, notebook)
        check_notebook_caught_up(page, frame, notebook)


def test_a_notebook_opened_again_shows_its_slideshow_twice(
    lab: Lab, browser: Browser, tmp_path: Path
) -> None:
    """After the walk: the notebook again (its saved outputs name widgets of a kernel now gone), Run
    All, its slideshow; then Alt+R once more, which reloads the slideshow on the same kernel."""
    require_extension()
    with lab_page(lab, browser, tmp_path, Path(REOPENED).stem + "_again") as page:
        page.goto(lab.notebook_url(REOPENED))
        wait_for_kernel(page, REOPENED)
        run_all(page, REOPENED)
        walk_slideshow(page, open_slideshow(page, REOPENED), REOPENED)
        walk_slideshow(page, open_slideshow(page, REOPENED), REOPENED)


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
