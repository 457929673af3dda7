"""A notebook in a real JupyterLab in Chromium: Run All shows no error, every explorer redraws, every
prediction form commits (`check_notebook_view`), and the helpers test_slides.py uses for its slideshow.

The server is the `lab` fixture (127.0.0.1, random token, a copy of the notebooks);
Playwright drives Debian's Chromium. Kernel state is read from `window.jupyterapp`
(exposed by the fixture); what a learner sees (outputs, widgets, plots) from the DOM.
test_slides.py runs each notebook once and checks it here, then in its slideshow: a Run All of its
own for this view took every notebook's run time again (22 runs, 10-15 of CI's minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reslib.language import LANGUAGES, local_language, tr

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

KERNEL_READY_S, RUN_ALL_S, WIDGETS_S, REDRAW_S = 90, 180, 30, 5
PANEL = "Array.from(window.jupyterapp?.shell.widgets('main') ?? []).find(w => w.context?.path === name)"
KERNEL_READY = f"""name => {{
  const kernel = ({PANEL})?.sessionContext.session?.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}}"""
# Clear the stored outputs (their widgets cannot render without the stripped state), then Run All.
RUN_ALL = f"""async name => {{
  const panel = {PANEL};
  window.jupyterapp.shell.activateById(panel.id);
  await window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
  window.jupyterapp.commands.execute('notebook:run-all-cells');
}}"""
# Shown errors: error outputs, tracebacks on stderr (tqdm's bars there are fine), broken widgets.
ERRORS = f"""name => {{
  const node = ({PANEL}).node, text = s => Array.from(node.querySelectorAll(s), e => e.textContent);
  return [...text('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'),
          ...text('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            .filter(t => t.includes('Traceback')),
          ...text('.jp-OutputArea-output').filter(t => t.startsWith('Error displaying widget'))];
}}"""
# null while running; else 'done', 'error' (Run All stops at the first error) or why it cannot finish.
RUN_STATE = f"""name => {{
  const panel = {PANEL}, kernel = panel?.sessionContext.session?.kernel;
  if (!kernel) return 'the notebook has no kernel';
  if (kernel.status === 'dead') return 'the kernel died';
  const prompts = Array.from(panel.node.querySelectorAll('.jp-InputPrompt'), p => p.textContent);
  if (kernel.status !== 'idle' || prompts.some(p => p.includes('*'))) return null;
  if (({ERRORS})(name).length) return 'error';
  const code = panel.content.widgets.filter(c => c.model.type === 'code'
    && c.model.sharedModel.getSource().trim() !== '');  // empty cells never get a count
  return code.every(c => c.model.executionCount !== null) ? 'done' : null;
}}"""
# From now on, record errors the kernel reports, e.g. from a widget callback (JupyterLab logs them
# to its log console, never to the notebook).
RECORD_KERNEL_ERRORS = f"""name => {{
  window.kernelErrors = [];
  ({PANEL}).sessionContext.session.kernel.iopubMessage.connect((_, msg) => {{
    if (msg.header.msg_type === 'error') window.kernelErrors.push(
      msg.content.traceback.join('\\n').replace(/\\x1b\\[[0-9;]*m/g, ''));
  }});
}}"""
# Trace data without plotly's bookkeeping keys; typed arrays as plain arrays.
PLOT_DATA = """el => JSON.stringify(el.data, (k, v) => k.startsWith('_') || k === 'uid' ? undefined
  : ArrayBuffer.isView(v) ? Array.from(v) : v)"""
CONTROLS = ".widget-slider, .widget-dropdown"
# How many base-manager modules got binder/rise-widgets' last look in get_model (0: not active).
PATCHED = "() => window._JUPYTERLAB?.['reslib-rise-widgets']?.state?.patched ?? 0"


def _could_not_draw() -> tuple[str, ...]:
    """What an explorer's status line starts with when its redraw raised, in each language reslib speaks."""
    heads = []
    for code in LANGUAGES:
        with local_language(code):
            heads.append(tr("could not draw: {error}: {message}").partition("{")[0])  # no fields: as written
    return tuple(heads)


COULD_NOT_DRAW = _could_not_draw()


# Slider-to-redraw: from the moment a slider's value changes (its handle's aria-valuenow, which
# noUiSlider sets as it moves the handle) to the first plot of its explorer that plotly.js redraws
# ('plotly_afterplot'), in ms: what a learner sees between the handle moving and the plot following.
# The same clock in the slideshow (test_slides), where the input is a mouse drag: timed from the
# button press instead, it would add the drag's own first step (Playwright's input events, 30-50 ms
# here) and count the gesture, not the explorer. Collected over the run and summed up at its end
# (tests/browser/conftest.py: pytest_terminal_summary); the target is a median <= 80 ms (a trivial
# FigureWidget's round trip is about 70 ms: the floor).
REDRAW_MS: list[float] = []
ARM_REDRAW_TIMER = """({plots, handle}) => {
  window.redrawMs = null;
  let moved = null;
  const armed = performance.now();
  const watch = new MutationObserver(() => { moved ??= performance.now(); watch.disconnect(); });
  watch.observe(handle, {attributes: true, attributeFilter: ['aria-valuenow']});
  for (const gd of plots) gd.once?.('plotly_afterplot', () => {
    if (window.redrawMs === null) window.redrawMs = performance.now() - (moved ?? armed);
  });
}"""


def plot_data(plots: Locator) -> list[str]:
    return [p.evaluate(PLOT_DATA) for p in plots.all()]


def kernel_errors(page: Page) -> str:
    """The tracebacks the kernel reported since RECORD_KERNEL_ERRORS, for a failure message."""
    errors = page.evaluate("() => window.kernelErrors")
    return f"\nthe kernel reported {len(errors)} error(s), the last:\n{errors[-1][-1500:]}" if errors else ""


def redrew(page: Page, plots: Locator, before: list[str]) -> bool:
    """Wait up to REDRAW_S for the data of at least one plot to differ from `before`."""
    for _ in range(REDRAW_S * 4):
        if plot_data(plots) != before:
            return True
        page.wait_for_timeout(250)
    return False


def drive_explorer(page: Page, explorer: Locator, where: str) -> None:
    """Move every slider and change every dropdown of one explorer; each must redraw a plot."""
    explorer.scroll_into_view_if_needed()
    plots = explorer.locator(".js-plotly-plot")
    for k, handle in enumerate(explorer.locator(".widget-slider .noUi-handle").all()):
        before, start = plot_data(plots), handle.get_attribute("aria-valuenow")
        handle.focus()
        arm = {"plots": plots.element_handles(), "handle": handle.element_handle()}
        page.evaluate(ARM_REDRAW_TIMER, arm)
        page.keyboard.press("ArrowRight")
        key = "ArrowRight"
        if handle.get_attribute("aria-valuenow") == start:  # already at its maximum
            page.evaluate(ARM_REDRAW_TIMER, arm)
            page.keyboard.press(key := "ArrowLeft")
        with contextlib.suppress(Exception):  # no redraw: the check below fails with the reason
            page.wait_for_function("() => window.redrawMs !== null", timeout=REDRAW_S * 1000)
            REDRAW_MS.append(page.evaluate("() => window.redrawMs"))
        for _ in range(2):
            page.keyboard.press(key)
        moved = f"{start} -> {handle.get_attribute('aria-valuenow')}"
        if not redrew(page, plots, before):
            pytest.fail(f"{where}, slider {k} ({moved}): no plot changed{kernel_errors(page)}")
    for k, select in enumerate(explorer.locator(".widget-dropdown select").all()):
        values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        other = next((v for v in values if v != select.input_value()), None)
        if other is None:
            continue  # a one-option dropdown cannot change
        before = plot_data(plots)
        select.select_option(value=other)
        if not redrew(page, plots, before):
            pytest.fail(f"{where}, dropdown {k} (-> {other!r}): no plot changed{kernel_errors(page)}")
    status = " ".join(explorer.locator(".widget-html").all_text_contents())
    assert not any(words in status for words in COULD_NOT_DRAW), f"{where}: {status}"


def wait_for_kernel(page: Page, name: str) -> None:
    """Wait for a connected, idle kernel (Run All before that skips every cell), accepting dialogs."""
    deadline = time.monotonic() + KERNEL_READY_S
    while not page.evaluate(KERNEL_READY, name):
        for button in page.locator(".jp-Dialog .jp-mod-accept").all():  # e.g. "Select Kernel"
            button.click()
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: no idle kernel after {KERNEL_READY_S} s")
        page.wait_for_timeout(250)


def run_all(page: Page, name: str) -> None:
    """Clear the outputs, Run All, wait for the last cell; fail on any error shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(RUN_ALL, name)
    try:
        state = page.wait_for_function(RUN_STATE, arg=name, timeout=RUN_ALL_S * 1000, polling=500)
    except PlaywrightTimeout:
        pytest.fail(f"{name}: Run All did not finish in {RUN_ALL_S} s (see the screenshot)")
    errors = page.evaluate(ERRORS, name)
    if errors:
        pytest.fail(f"{name} shows errors:\n" + "\n---\n".join(e[-2000:] for e in errors))
    assert state.json_value() == "done", f"{name}: {state.json_value()}"


def save_screenshot(page: Page, tmp_path: Path, stem: str) -> None:
    """Into pytest's tmp_path, and into $RESLIB_SCREENSHOTS where that is set."""
    path = tmp_path / f"{stem}.png"
    page.screenshot(path=str(path))
    if os.environ.get("RESLIB_SCREENSHOTS"):
        target = Path(os.environ["RESLIB_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def commit_predictions(page: Page, name: str) -> None:
    """Answer every prediction form as a learner would (first option, or 1), Commit, see it saved.

    The Korean edition's forms say 확정 (commit) and 확정했다 (committed): `rl.set_language("ko")`.
    """
    commit, committed = ("확정", "확정했다") if name.startswith("ko/") else ("Commit", "Committed")
    forms = page.locator(f".jp-OutputArea-output:has(button:has-text('{commit}'))")
    assert forms.count(), f"{name}: no prediction form (a {commit!r} button) found"
    for i, form in enumerate(forms.all()):
        if form.locator(f"button:has-text('{commit}')").is_disabled():
            # revealed in the other edition's run already (both save under the same keys): locked, says so
            said = form.locator(".widget-html-content").last.text_content() or ""
            assert said.startswith(committed), f"{name}: prediction form {i} is locked but says {said!r}"
            continue
        options = form.locator(".widget-toggle-button")
        if options.count():
            options.first.click()
        else:
            form.locator("input").first.fill("1")
        form.locator(f"button:has-text('{commit}')").click()
        status = form.locator(".widget-html-content").last
        try:
            status.filter(has_text=committed).wait_for(timeout=WIDGETS_S * 1000)
        except Exception:
            pytest.fail(f"{name}: prediction form {i} did not confirm its commit: {status.text_content()!r}")
    store = Path(os.environ["RESLIB_PREDICTIONS"])  # the kernels inherit it (see conftest.py)
    saved = json.loads(store.read_text())["predictions"] if forms.count() else {}
    number = Path(name).name[:2]  # both editions save under the English notebook's keys: 01-...
    keys = [k for k, v in saved.items() if k.startswith(number + "-") and "guess" in v]
    assert len(keys) == forms.count(), f"{name}: {forms.count()} forms committed, {len(keys)} saved"


def check_notebook_view(page: Page, name: str) -> None:
    """After Run All: every explorer in the notebook redraws its plot, every prediction form commits,
    and no error shows, also from a widget's callback (which JupyterLab logs to its console only)."""
    page.evaluate(RECORD_KERNEL_ERRORS, name)
    # Widgets render a moment after their cell finishes; plotly.js loads once per page.
    outputs = page.locator(f".jp-OutputArea-output:has({CONTROLS})")
    for i, output in enumerate(outputs.all()):
        try:
            output.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=WIDGETS_S * 1000)
        except Exception:
            pytest.fail(f"{name}: widget output {i} has controls but no plot rendered in {WIDGETS_S} s")
        drive_explorer(page, output, f"{name}, explorer {i}")
    commit_predictions(page, name)
    errors = "\n---\n".join(e[-2000:] for e in page.evaluate(ERRORS, name)) + kernel_errors(page)
    if errors:
        pytest.fail(f"{name}: errors after moving controls:\n{errors}")
    assert outputs.count(), f"{name} has no live explorer (controls with a plotly graph)"
    assert page.evaluate(PATCHED) >= 1, "binder/rise-widgets' get_model fix is not active in JupyterLab"
