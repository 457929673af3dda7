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


# Stand-ins for a Backbone model (ipywidgets' WidgetModel: `on`, `off`, `set` firing change:<name>
# listeners at once, `views` holding a promise of each view) and for plotly's FigureWidget view,
# whose listeners read the message from the model when it fires (`get`), as plotly's do; and a page
# element for the view, which a test hides (display: none), scrolls away or shows.
OFF_SCREEN = """
class Model {
  constructor() { this.attributes = {}; this.views = {}; this.events = {}; }
  on(name, callback, context) { (this.events[name] ??= []).push({callback, context}); return this; }
  off(name, callback) {
    const other = h => h.callback !== callback && h.callback._callback !== callback;
    this.events[name] = (this.events[name] ?? []).filter(other);
  }
  get(key) { return this.attributes[key]; }
  set(key, value) {
    this.attributes[key] = value;
    for (const h of [...(this.events['change:' + key] ?? [])]) h.callback.call(h.context, this, value, {});
  }
}
// plotly's messages: set, then reset to null at once (plotly's Python side does both)
function send(model, attr, n, keys = ['y']) {
  const data = Object.fromEntries(keys.map(k => [k, [n]]));
  const message = attr === '_py2js_relayout' ? {n, relayout_data: data}
    : attr === '_py2js_addTraces' ? {n, trace_data: [data]}
    : {n, style_data: data, style_traces: [0], layout_data: {}};
  model.set(attr, message);
  model.set(attr, null);
}
// a view in a fresh element: registered in model.views before it renders, as ipywidgets does
async function addView(model, drawn, id = 'a') {
  const el = document.createElement('div');
  el.style.cssText = 'position: absolute; top: 0; left: 0; width: 200px; height: 100px';
  document.body.appendChild(el);
  const view = {el};
  model.views[id] = Promise.resolve(view);
  for (const attr of ['_py2js_update', '_py2js_relayout', '_py2js_addTraces']) {
    model.on('change:' + attr, () => {
      const m = model.get(attr);
      if (m !== null) drawn.push(attr.slice(7) + ' ' + m.n);
    });
  }
  await sleep(0);
  return el;
}
async function patchedModel() {
  const entry = window._JUPYTERLAB['reslib-rise-widgets'];
  const scope = {};
  await entry.init(scope);
  const versions = scope['@jupyter-widgets/base-manager'];
  const real = {ManagerBase: class extends ManagerBase {}};
  versions['1.0.13'] = {get: () => Promise.resolve(() => real), from: 'jupyterlab-manager'};
  const module = (await versions['1.999.0'].get())();
  class AnyModel extends Model {}
  const manager = new module.ManagerBase({anywidget: AnyModel});
  const Patched = await manager.loadModelClass('AnyModel', 'anywidget', '0.11.0');
  await manager.loadModelClass('AnyModel', 'anywidget', '0.11.0');  // loaded again: patched once
  return {entry, Patched};
}
"""


def test_a_plotly_view_off_screen_draws_once_it_shows_what_it_missed(chromium: Browser) -> None:
    """A view's update listeners wait while none of the model's views shows (hidden, or scrolled out
    of its frame); a later message with the same keys replaces a waiting one; once a view shows, the
    waiting messages reach it in order, each with the value it carried. The model's own listeners
    (added before any view) and a view on screen get every message at once."""
    result = run(
        chromium,
        OFF_SCREEN
        + """
        const {entry, Patched} = await patchedModel();
        const model = new Patched();
        const own = [];  // the model's own listener, added before any view (plotly's FigureModel)
        model.on('change:_py2js_update', () => { const m = model.get('_py2js_update'); m && own.push(m.n); });
        const drawn = [];
        const el = await addView(model, drawn);
        send(model, '_py2js_update', 1);  // on screen: drawn at once
        const shown = [...drawn];
        el.style.display = 'none';  // hidden (a notebook behind its slideshow, a slide not shown)
        send(model, '_py2js_update', 2);
        send(model, '_py2js_update', 3);  // same keys: replaces 2
        send(model, '_py2js_relayout', 4);
        send(model, '_py2js_update', 5);  // after a relayout: kept beside 3
        send(model, '_py2js_update', 6, ['y', 'x']);  // more keys: replaces 5
        send(model, '_py2js_update', 7, ['x']);  // fewer keys: kept beside 6
        const whileHidden = [...drawn];
        const held = {...entry.state};
        el.style.display = '';
        await sleep(400);  // the next look (every 150 ms) finds it shown
        const caughtUp = [...drawn];
        el.style.top = '5000px';  // scrolled out of the frame
        send(model, '_py2js_update', 8);
        const scrolled = [...drawn];
        el.style.top = '0px';
        send(model, '_py2js_update', 9);  // shown again before the next look: 8 first, then 9
        const next = [...drawn];
        return {shown, whileHidden, caughtUp, scrolled, next, own, held, state: entry.state,
                reset: model.get('_py2js_update')};
        """,
    )
    assert result["shown"] == ["update 1"]
    assert result["whileHidden"] == ["update 1"], "a hidden view drew"
    assert result["held"] == {"patched": 1, "kept": 0, "held": 6, "replaced": 2, "applied": 0}
    assert result["caughtUp"] == ["update 1", "update 3", "relayout 4", "update 6", "update 7"]
    assert result["scrolled"] == result["caughtUp"], "a view scrolled out of its frame drew"
    assert result["next"] == [*result["caughtUp"], "update 8", "update 9"]
    assert result["own"] == [1, 2, 3, 5, 6, 7, 8, 9], "the model's own listener missed a message"
    assert result["reset"] is None, "applying a held message left its value in the model"
    assert result["state"] == {"patched": 1, "kept": 0, "held": 7, "replaced": 2, "applied": 5}


def test_views_gone_unseen_or_one_of_two_showing_draw_at_once(chromium: Browser) -> None:
    """Nothing waits where it could not be seen later or is seen now: a model whose every view left
    the page, one whose view has not rendered yet, one with two views of which one shows; a listener
    removed with `off` stays removed; past 100 waiting messages they are drawn, seen or not."""
    result = run(
        chromium,
        OFF_SCREEN
        + """
        const {entry, Patched} = await patchedModel();
        const gone = new Patched(), goneDrawn = [];
        (await addView(gone, goneDrawn)).remove();
        send(gone, '_py2js_update', 1);
        const two = new Patched(), twoDrawn = [];
        (await addView(two, twoDrawn, 'a')).style.display = 'none';
        await addView(two, twoDrawn, 'b');
        send(two, '_py2js_update', 1);
        const unseen = new Patched(), unseenDrawn = [];
        const el = await addView(unseen, unseenDrawn);
        el.style.display = 'none';
        unseen.views.late = new Promise(() => {});  // a second view still rendering
        send(unseen, '_py2js_update', 1);
        const off = new Patched(), offDrawn = [];
        await addView(off, offDrawn);
        const listeners = off.events['change:_py2js_update'];
        listeners.forEach(h => off.off('change:_py2js_update', h.callback._callback));
        send(off, '_py2js_update', 1);
        const many = new Patched(), manyDrawn = [];
        (await addView(many, manyDrawn)).style.display = 'none';
        for (let n = 1; n <= 101; n++) send(many, '_py2js_addTraces', n);  // never replaced
        return {gone: goneDrawn, two: twoDrawn, unseen: unseenDrawn, off: offDrawn,
                many: manyDrawn.length, manyLast: manyDrawn.at(-1), state: entry.state};
        """,
    )
    assert result == {
        "gone": ["update 1"],
        "two": ["update 1", "update 1"],  # both views' listeners
        "unseen": ["update 1"],
        "off": [],
        "many": 101,
        "manyLast": "addTraces 101",
        "state": {"patched": 1, "kept": 0, "held": 101, "replaced": 0, "applied": 101},
    }
