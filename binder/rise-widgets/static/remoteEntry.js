// reslib-rise-widgets: ipywidgets (and so every reslib explorer) in jupyterlab-rise 0.43.1's slideshow.
// A federated extension with no plugin: when an app initialises it, it edits the shared scope in two
// small ways, and the second patches the widget manager's base module in two places (2 and 3 below).
// Each edit is a no-op where the bug it works around is absent.
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
  // the runtime's 2 s wait failed (tests read both)
  var state = { patched: 0, kept: 0 };

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
          return moduleName === "anywidget" ? keepMessages(modelClass) : modelClass;
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
