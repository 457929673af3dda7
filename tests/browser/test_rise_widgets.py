"""binder/rise-widgets in Chromium, on shared scopes made up here (no JupyterLab needed).

The extension edits the module-federation shared scope an app hands it (see the comments in its
remoteEntry.js): a stand-in @jupyterlab/console where the app has none, a last look in
base-manager's get_model, and no comm message lost by an anywidget model whose runtime started slowly.
The end-to-end check, that every explorer shows and redraws in every slideshow, is
tests/browser/test_slides.py; these tests pin down each edit on its own, including the timings that
made explorers show "model not found" and made a slideshow's plot stop redrawing.
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
  constructor(classes = {}) { this._models = Object.create(null); this._classes = classes; }
  async loadModelClass(className, moduleName, moduleVersion) { return this._classes[moduleName]; }
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
// Stand-ins for ipywidgets' WidgetModel (applies each message in order, on its state_change chain)
// and anywidget 0.11's AnyModel, which holds each message until its runtime is ready and gives up
// after 2 s (here 200 ms): the runtime's ready promise rejects, and so does every message handed to
// it. Fresh classes per call: the extension patches the class it is given.
function anywidgetClasses() {
  class WidgetModel {
    constructor() { this.applied = []; this.state_change = Promise.resolve(); }
    _handle_comm_msg(msg) {
      this.state_change = this.state_change.then(() => {
        if (msg === 'bad') throw new Error('Could not process update msg');
        this.applied.push(msg);
      });
      return this.state_change;
    }
  }
  class AnyModel extends WidgetModel {
    constructor(loadMs) {
      super();
      this.ready = new Promise((resolve, reject) => {
        setTimeout(resolve, loadMs);
        setTimeout(() => reject(new Error('[anywidget] Failed to initialize model.')), 200);
      });
      this.ready.catch(() => {});
    }
    async _handle_comm_msg(msg) { await this.ready; return super._handle_comm_msg(msg); }
  }
  return {WidgetModel, AnyModel};
}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
// Messages a, b, c: one at once, one after the runtime's wait failed, one after its ESM loaded (at
// 400 ms, a slow start) or long after it (a fast one); what the model applied, in order.
async function deliver(model) {
  const handle = msg => model._handle_comm_msg(msg).then(() => 'ok', e => e.message);
  const handled = [handle('a')];
  await sleep(250);
  handled.push(handle('b'));
  await sleep(200);
  handled.push(handle('c'));
  return {applied: model.applied, handled: await Promise.all(handled)};
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


def test_an_anywidget_model_that_starts_slowly_keeps_every_message(chromium: Browser) -> None:
    """Unpatched, a model whose runtime took longer than its wait drops every message, for good (the
    stale slideshow plot); patched, it applies them all in order; a fast one and other errors as before."""
    result = run(
        chromium,
        """
        const before = {slow: await deliver(new (anywidgetClasses().AnyModel)(400)),
                        fast: await deliver(new (anywidgetClasses().AnyModel)(50))};
        const scope = {};
        const entry = window._JUPYTERLAB['reslib-rise-widgets'];
        await entry.init(scope);
        const versions = scope['@jupyter-widgets/base-manager'];
        const real = {ManagerBase: class extends ManagerBase {}};
        versions['1.0.13'] = {get: () => Promise.resolve(() => real), from: 'jupyterlab-manager'};
        const module = (await versions['1.999.0'].get())();
        const {WidgetModel, AnyModel} = anywidgetClasses();
        class Other extends WidgetModel { async _handle_comm_msg(m) { return super._handle_comm_msg(m); } }
        const otherHandler = Other.prototype._handle_comm_msg;
        const manager = new module.ManagerBase({anywidget: AnyModel, '@jupyter-widgets/controls': Other});
        const Patched = await manager.loadModelClass('AnyModel', 'anywidget', '0.11.0');
        const wrapped = Patched.prototype._handle_comm_msg;
        await manager.loadModelClass('AnyModel', 'anywidget', '0.11.0');  // loaded again: wrapped once
        const Untouched = await manager.loadModelClass('SliderModel', '@jupyter-widgets/controls', '2.0.0');
        const slow = await deliver(new Patched(400));
        const keptSlow = entry.state.kept;
        const fast = await deliver(new Patched(50));
        const broken = new Patched(50);
        const bad = await broken._handle_comm_msg('bad').then(() => 'ok', e => e.message);
        return {
          before, slow, fast, bad, keptSlow, kept: entry.state.kept,
          same: Patched === AnyModel, once: wrapped === Patched.prototype._handle_comm_msg,
          other: Untouched === Other && Other.prototype._handle_comm_msg === otherHandler,
        };
        """,
    )
    everything = {"applied": ["a", "b", "c"], "handled": ["ok", "ok", "ok"]}
    failed = "[anywidget] Failed to initialize model."
    assert result["before"] == {
        "slow": {"applied": [], "handled": [failed] * 3},  # the bug: the plot never redraws
        "fast": everything,
    }, "the stand-ins no longer show the bug"
    assert result == {
        "before": result["before"],
        "slow": everything,  # every message, in order
        "fast": everything,
        "bad": "Could not process update msg",  # any other failure still fails
        "keptSlow": 3,
        "kept": 3,  # only the slow model's messages took the new path
        "same": True,  # anywidget's class, patched in place
        "once": True,
        "other": True,  # other modules' classes are not touched
    }
