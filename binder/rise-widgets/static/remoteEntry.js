// reslib-rise-widgets: ipywidgets (and so every reslib explorer) in jupyterlab-rise 0.43.1's slideshow.
// A federated extension with no plugin: when an app initialises it, it edits the shared scope in two
// small ways, and the second patches the widget manager's base module in three places (2 to 4 below).
// Edits 1 to 3 are no-ops where the bug they work around is absent; 4 saves work wherever it runs.
//
// 1. A stand-in @jupyterlab/console. The widget manager (@jupyter-widgets/jupyterlab-manager 5.0.16,
//    from jupyterlab_widgets 3.0.17, which ipywidgets 8.1.9 requires) consumes the shared module
//    @jupyterlab/console, for an *optional* IConsoleTracker (widgets in the console). JupyterLab
//    shares it; RISE's slideshow app (built on JupyterLab 4.3.4) does not, so there the manager fails
//    to load ("Shared module @jupyterlab/console doesn't exist in shared scope default",
//    jupyterlab-contrib/rise issues 119 and 126) and every widget shows as text. The stand-in is added
//    only where no @jupyterlab/console is there: in JupyterLab the real module is always there first
//    and nothing changes; in RISE the manager gets a token no plugin provides, so its optional console
//    tracker is null, as it is in any app without a console.
//
// 2. A last look in get_model. @jupyter-widgets/base-manager 1.0.13's ManagerBase.get_model waits
//    for a model that is not registered yet by polling every 100 ms for 2 s (ipywidgets PR 4033, for
//    issue 4026), but it checks the deadline *after* each sleep and then throws without looking again.
//    When the page's main thread is busy past the deadline (RISE's app builds every slide while the
//    widget manager restores the kernel's widgets) the model can be registered during that sleep and
//    still be reported missing; the manager's restore has finished by then, so the output shows
//    "Error displaying widget: model not found" for good. Seen on any explorer slide, on a different
//    slide from run to run (tests/browser/test_slides.py). The fix: when get_model rejects, look
//    once more and return the model if it is registered now. This entry offers base-manager under a
//    version no release has (1.999.0, inside the manager's range ^1.0.13, so it is the one chosen); its
//    loader loads the newest real base-manager in the scope and patches that module once. Where the
//    model really is missing, get_model still rejects as before.
//
// 3. No message lost after a slow start. anywidget 0.11's AnyModel (every plotly FigureWidget is one)
//    holds each comm message from the kernel until its runtime is ready: its ESM loaded and its
//    initialize run. It gives that 2 s; past them the runtime's ready promise rejects ("[anywidget]
//    Failed to initialize model.") and, awaiting it, the model drops that message and every later
//    one, for good. Its view still renders once the ESM has loaded, so the plot shows and never
//    redraws: the slideshow's stale explorer plot (docs/maintenance.md). plotly's ESM is 5 MB, inline,
//    so each figure's model parses its own copy: in RISE's app every explorer's figure loads at once,
//    beside the slides being built, and on a slow CPU some take longer than 2 s. The fix, in the same
//    patched base-manager: the model class it loads from the module "anywidget" hands a message that
//    failed only for that reason to the class it extends (ipywidgets' WidgetModel), which applies it in
//    order. Until the ESM has loaded, a message changes the model's state only; reslib's explorers
//    send their figure's whole drawing with each update (Explorer._store_figure_state), so the view
//    then renders the current one. Any other failure is left as it was.
//
// 4. No drawing off screen. plotly's FigureWidget view (plotly 6's widget bundle) redraws on every
//    update message, seen or not: with a slideshow open beside its notebook, every slider move draws
//    the figure twice (the slideshow's view and the notebook's), on the one renderer thread the two
//    frames share (docs/maintenance.md, known issues). Now, in the model class loaded from
//    "anywidget", a listener a view adds for plotly's update messages (change:_py2js_*, added while
//    the model has views; the model's own listeners come before any) waits while none of that model's
//    views in this frame is on screen: each message is kept with the value it carried, and a later
//    one of the same kind and keys replaces it. When a view shows again (checked every 150 ms while
//    messages wait, and before the next message) the kept ones are applied in order, so the plot
//    catches up in one or a few drawings. A model whose views are all gone, or whose views this frame
//    has not seen yet, draws as before; so does one with more than 100 messages waiting.
(function () {
  var name = "reslib-rise-widgets";
  var consoleKey = "@jupyterlab/console";
  var managerKey = "@jupyter-widgets/base-manager";
  var ourVersion = "1.999.0";
  var standIn = {
    IConsoleTracker: {
      name: "@jupyterlab/console:IConsoleTracker",
      description: "stand-in from reslib-rise-widgets: this app has no console",
    },
  };
  // patched: base-manager modules that got the last look; kept: anywidget messages delivered after
  // the runtime's 2 s wait failed; held, replaced, applied: plotly update messages a view off screen
  // kept, replaced by a later one, applied once it showed (tests read them)
  var state = { patched: 0, kept: 0, held: 0, replaced: 0, applied: 0 };
  var HELD_MAX = 100; // more waiting than this: draw them now, seen or not
  var CHECK_MS = 150; // how often a frame looks whether a view with waiting messages shows again

  function newest(versions) {
    // The highest version another package registered (plain x.y.z; pre-releases sort lower).
    var best = null;
    Object.keys(versions).forEach(function (v) {
      if (versions[v].from === name) return;
      var a = v.split(/[.+-]/).map(Number);
      var b = best && best.split(/[.+-]/).map(Number);
      if (!b || a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])))) best = v;
    });
    return best;
  }

  function keepMessages(modelClass) {
    // anywidget's model class: a message its runtime's failed wait would drop goes to WidgetModel's handler.
    var proto = modelClass && modelClass.prototype;
    if (!proto || !Object.prototype.hasOwnProperty.call(proto, "_handle_comm_msg")) return modelClass;
    var own = proto._handle_comm_msg;
    var base = Object.getPrototypeOf(proto)._handle_comm_msg;
    if (own.reslibKeep || typeof base !== "function") return modelClass;
    proto._handle_comm_msg = function () {
      var model = this;
      var args = arguments;
      return own.apply(model, args).catch(function (error) {
        if (!(error instanceof Error && error.message.indexOf("Failed to initialize model") >= 0)) throw error;
        state.kept += 1;
        return base.apply(model, args);
      });
    };
    proto._handle_comm_msg.reslibKeep = true;
    return modelClass;
  }

  function onScreen(el) {
    // Some of the element shows in its frame's viewport: not hidden (no size), not scrolled away.
    if (!el || !el.isConnected) return false;
    var box = el.getBoundingClientRect();
    var view = el.ownerDocument.defaultView;
    return (
      box.width > 0 &&
      box.height > 0 &&
      box.bottom > 0 &&
      box.right > 0 &&
      box.top < view.innerHeight &&
      box.left < view.innerWidth
    );
  }

  var waiting = new Set(); // models with messages held
  var timer = null;

  function views(model) {
    // This model's views' elements in this frame, as far as they have rendered; and how many views.
    var promises = model.views ? Object.values(model.views) : [];
    var seen = (model.reslibEls = model.reslibEls || new Set());
    promises.forEach(function (promise) {
      if (!promise.reslibSeen) {
        promise.reslibSeen = true;
        Promise.resolve(promise).then(
          function (view) {
            if (view && view.el) seen.add(view.el);
          },
          function () {},
        );
      }
    });
    return { els: seen, count: promises.length };
  }

  function hidden(model) {
    // True where every view of the model is rendered, at least one is still in the page, and none shows.
    var v = views(model);
    if (v.count === 0 || v.els.size < v.count) return false;
    var connected = false;
    var shows = false;
    v.els.forEach(function (el) {
      connected = connected || el.isConnected;
      shows = shows || onScreen(el);
    });
    return connected && !shows;
  }

  function sameKeys(a, b) {
    // Every key of b is in a (both plain objects or null)
    var ka = Object.keys(a || {});
    return Object.keys(b || {}).every(function (k) {
      return ka.indexOf(k) >= 0;
    });
  }

  function covers(attr, later, earlier) {
    // Does the later message set everything the earlier one set, on the same traces?
    var same = function (x, y) {
      return JSON.stringify(x === undefined ? null : x) === JSON.stringify(y === undefined ? null : y);
    };
    if (attr === "_py2js_restyle")
      return same(later.restyle_traces, earlier.restyle_traces) && sameKeys(later.restyle_data, earlier.restyle_data);
    if (attr === "_py2js_update")
      return (
        same(later.style_traces, earlier.style_traces) &&
        sameKeys(later.style_data, earlier.style_data) &&
        sameKeys(later.layout_data, earlier.layout_data)
      );
    if (attr === "_py2js_relayout") return sameKeys(later.relayout_data, earlier.relayout_data);
    return false;
  }

  function hold(model, entry) {
    var held = (model.reslibHeld = model.reslibHeld || []);
    // Look back past the other views' copies of the same kind of message for this listener's last one.
    for (var i = held.length - 1; i >= 0 && held[i].attr === entry.attr; i--) {
      if (held[i].callback === entry.callback) {
        if (covers(entry.attr, entry.value, held[i].value)) {
          held.splice(i, 1);
          state.replaced += 1;
        }
        break;
      }
    }
    held.push(entry);
    state.held += 1;
    waiting.add(model);
    if (held.length > HELD_MAX) apply(model);
    else if (timer === null) timer = setTimeout(check, CHECK_MS);
  }

  function apply(model) {
    // Hand the held messages to their listeners, in order, each with the value it carried.
    var held = model.reslibHeld || [];
    model.reslibHeld = [];
    waiting.delete(model);
    held.forEach(function (entry) {
      var now = model.attributes[entry.attr];
      model.attributes[entry.attr] = entry.value;
      try {
        entry.callback.apply(entry.context, entry.args);
        state.applied += 1;
      } catch (error) {
        console.error(name + ": a held plotly message failed", error);
      } finally {
        model.attributes[entry.attr] = now;
      }
    });
  }

  function check() {
    timer = null;
    waiting.forEach(function (model) {
      if (!hidden(model)) apply(model);
    });
    if (waiting.size > 0) timer = setTimeout(check, CHECK_MS);
  }

  function drawOnScreen(modelClass) {
    // anywidget's model class: plotly's view listeners wait while the model shows nowhere in this frame.
    var proto = modelClass && modelClass.prototype;
    if (!proto || typeof proto.on !== "function" || proto.on.reslibOnScreen) return modelClass;
    var on = proto.on;
    proto.on = function (event, callback, context) {
      var model = this;
      var plain = typeof event === "string" && event.indexOf(" ") < 0 && typeof callback === "function";
      if (!plain || event.indexOf("change:_py2js_") !== 0 || !model.views || Object.keys(model.views).length === 0)
        return on.apply(model, arguments);
      var attr = event.slice("change:".length);
      var listener = function () {
        var value = model.attributes[attr];
        if (value === null || value === undefined) return callback.apply(this, arguments); // plotly's reset: a no-op
        if (hidden(model)) {
          hold(model, { attr: attr, value: value, callback: callback, context: this, args: arguments });
          return undefined;
        }
        if (model.reslibHeld && model.reslibHeld.length > 0) apply(model);
        return callback.apply(this, arguments);
      };
      listener._callback = callback; // so that off(event, callback) finds it, as Backbone's once does
      views(model);
      return on.call(model, event, listener, context);
    };
    proto.on.reslibOnScreen = true;
    return modelClass;
  }

  function lastLook(module) {
    var proto = module && module.ManagerBase && module.ManagerBase.prototype;
    if (!proto || typeof proto.get_model !== "function" || proto.get_model.reslibLastLook) return module;
    var getModel = proto.get_model;
    proto.get_model = function (modelId) {
      var manager = this;
      return getModel.call(manager, modelId).catch(function (error) {
        var late = manager._models && manager._models[modelId];
        if (late !== undefined) return late;
        throw error;
      });
    };
    proto.get_model.reslibLastLook = true;
    if (typeof proto.loadModelClass === "function") {
      var loadModelClass = proto.loadModelClass;
      proto.loadModelClass = function (className, moduleName) {
        return Promise.resolve(loadModelClass.apply(this, arguments)).then(function (modelClass) {
          return moduleName === "anywidget" ? drawOnScreen(keepMessages(modelClass)) : modelClass;
        });
      };
    }
    state.patched += 1;
    return module;
  }

  var registry = (window._JUPYTERLAB = window._JUPYTERLAB || {});
  registry[name] = {
    state: state,
    init: function (shareScope) {
      if (!shareScope[consoleKey] || Object.keys(shareScope[consoleKey]).length === 0) {
        shareScope[consoleKey] = {
          // the version the widget manager asks for (^4.6.2): taken without a warning
          "4.6.2": {
            get: function () {
              return Promise.resolve(function () {
                return standIn;
              });
            },
            from: name,
            eager: false,
            loaded: 1,
          },
        };
      }
      var versions = (shareScope[managerKey] = shareScope[managerKey] || {});
      versions[ourVersion] = {
        get: function () {
          var real = newest(versions);
          if (!real) return Promise.reject(new Error(name + ": no " + managerKey + " in the shared scope"));
          return Promise.resolve(versions[real].get()).then(function (factory) {
            return function () {
              return lastLook(factory());
            };
          });
        },
        from: name,
        eager: false,
      };
      return Promise.resolve();
    },
    get: function (request) {
      return Promise.reject(new Error(name + " exposes no module (" + request + ")"));
    },
  };
})();
