// reslib-rise-widgets: ipywidgets (and so every reslib explorer) in jupyterlab-rise 0.43.1's slideshow.
//
// The widget manager (@jupyter-widgets/jupyterlab-manager 5.0.16, from jupyterlab_widgets 3.0.17, which
// ipywidgets 8.1.9 requires) consumes the shared module @jupyterlab/console, for an *optional*
// IConsoleTracker (widgets in the console). JupyterLab shares it; RISE's slideshow app (built on
// JupyterLab 4.3.4) does not, so there the manager fails to load ("Shared module @jupyterlab/console
// doesn't exist in shared scope default", jupyterlab-contrib/rise issues 119 and 126) and every widget
// shows as text. This federated extension has no plugin: when an app initialises it, it adds a stand-in
// @jupyterlab/console to the shared scope, only where none is there. In JupyterLab the real module is
// always there first and nothing changes; in RISE the manager gets a token no plugin provides, so its
// optional console tracker is null, as it is in any app without a console.
(function () {
  var name = "reslib-rise-widgets";
  var key = "@jupyterlab/console";
  var standIn = {
    IConsoleTracker: {
      name: "@jupyterlab/console:IConsoleTracker",
      description: "stand-in from reslib-rise-widgets: this app has no console",
    },
  };
  var registry = (window._JUPYTERLAB = window._JUPYTERLAB || {});
  registry[name] = {
    init: function (shareScope) {
      if (!shareScope[key] || Object.keys(shareScope[key]).length === 0) {
        shareScope[key] = {
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
      return Promise.resolve();
    },
    get: function (request) {
      return Promise.reject(new Error(name + " exposes no module (" + request + ")"));
    },
  };
})();
