"""binder/rise-widgets in Chromium, on shared scopes made up here (no JupyterLab needed).

The extension edits the module-federation shared scope an app hands it (see the comments in its
remoteEntry.js): a stand-in @jupyterlab/console where the app has none, and a last look in
base-manager's get_model. The end-to-end check, that every explorer shows in every slideshow, is
tests/browser/test_slides.py; these tests pin down each edit on its own, including the timing that
made explorers show "model not found".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tools import lab as lab_tool

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SCRIPT = (lab_tool.RISE_WIDGETS / "static" / "remoteEntry.js").read_text()

# A stand-in for @jupyter-widgets/base-manager 1.0.13's ManagerBase: its get_model polls for a model
# not registered yet (here every 20 ms for 200 ms) and checks the deadline after each sleep, then
# throws without looking again, as the real one does (every 100 ms for 2 s).
FAKE_MANAGER = """
class ManagerBase {
  constructor() { this._models = Object.create(null); }
  async get_model(id) {
    let model = this._models[id];
    if (model === undefined) {
      const start = Date.now();
      while (Date.now() - start < 200) {
        if ((model = this._models[id]) !== undefined) return model;
        await new Promise(resolve => setTimeout(resolve, 20));
      }
      throw new Error('widget model not found');
    }
    return model;
  }
}
// Ask for a model, then keep the main thread busy past the poll's deadline (as RISE's app building
// its slides does) and register the model at the end of that stretch.
async function askWhileBusy(manager, id, register) {
  const asked = manager.get_model(id).then(m => 'found ' + m, e => 'rejected: ' + e.message);
  await new Promise(resolve => setTimeout(resolve, 5));
  const until = Date.now() + 300;
  while (Date.now() < until) {}
  if (register) manager._models[id] = Promise.resolve(id);
  return asked;
}
"""


def run(chromium: Browser, probe: str) -> object:
    """Evaluate `probe` (an async function's body) in a blank page holding the extension."""
    page = chromium.new_page()
    try:
        page.add_script_tag(content=SCRIPT + FAKE_MANAGER)
        return page.evaluate(f"async () => {{ {probe} }}")
    finally:
        page.close()


def test_the_console_stand_in_is_added_only_where_the_app_has_none(chromium: Browser) -> None:
    result = run(
        chromium,
        """
        const c = window._JUPYTERLAB['reslib-rise-widgets'];
        const rise = {}, lab = {'@jupyterlab/console': {'4.6.6': {from: 'core'}}};
        await c.init(rise);
        await c.init(lab);
        const standIn = (await rise['@jupyterlab/console']['4.6.2'].get())();
        return {rise: Object.keys(rise['@jupyterlab/console']), lab: lab['@jupyterlab/console'],
                token: standIn.IConsoleTracker.name};
        """,
    )
    assert result == {
        "rise": ["4.6.2"],  # RISE's app: the stand-in
        "lab": {"4.6.6": {"from": "core"}},  # JupyterLab: its own module, untouched
        "token": "@jupyterlab/console:IConsoleTracker",
    }


def test_get_model_finds_a_model_registered_while_the_page_was_busy(chromium: Browser) -> None:
    """Without the last look the poll reports a model missing that is there; with it, found."""
    result = run(
        chromium,
        """
        const scope = {};
        await window._JUPYTERLAB['reslib-rise-widgets'].init(scope);
        const versions = scope['@jupyter-widgets/base-manager'];
        const real = {ManagerBase: class extends ManagerBase {}};
        const unpatched = new real.ManagerBase();
        const before = await askWhileBusy(unpatched, 'late', true);
        versions['1.0.13'] = {get: () => Promise.resolve(() => real), from: 'jupyterlab-manager'};
        // the manager asks for ^1.0.13 and takes the highest version in range: the extension's
        const chosen = Object.keys(versions).sort().pop();
        const module = (await versions[chosen].get())();
        (await versions[chosen].get())();  // a second load patches nothing twice
        const manager = new module.ManagerBase();
        return {
          chosen, same: module === real,
          patched: window._JUPYTERLAB['reslib-rise-widgets'].state.patched,
          before,
          late: await askWhileBusy(manager, 'late', true),
          missing: await askWhileBusy(manager, 'missing', false),
          registered: await (manager._models['now'] = Promise.resolve('now'), manager.get_model('now')),
        };
        """,
    )
    assert result["before"] == "rejected: widget model not found", "the fake no longer shows the bug"
    assert result == {
        "chosen": "1.999.0",
        "same": True,  # the real module, patched in place
        "patched": 1,
        "before": "rejected: widget model not found",
        "late": "found late",
        "missing": "rejected: widget model not found",  # a model that is not there is still missing
        "registered": "now",
    }


def test_without_a_base_manager_the_entry_says_so(chromium: Browser) -> None:
    result = run(
        chromium,
        """
        const scope = {};
        await window._JUPYTERLAB['reslib-rise-widgets'].init(scope);
        return scope['@jupyter-widgets/base-manager']['1.999.0'].get().then(() => 'loaded', e => e.message);
        """,
    )
    assert result == "reslib-rise-widgets: no @jupyter-widgets/base-manager in the shared scope"
