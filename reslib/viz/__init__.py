"""Figures and live explorers, one module per topic, on one `Explorer` base.

Each topic module holds pure figure builders (results -> `go.Figure`) and thin explorer wiring;
the compute they show lives in the topic modules of `reslib`, usually the one of the same name
(`viz.euler` draws `reslib.euler`). Colours and layout come from `style`; every explorer is
registered in `registry` with its demo arguments and the controls its static copy steps through.
Every public name is re-exported here, so a notebook reaches any figure or explorer in one hop:
`rl.viz.variance_explorer()`.
"""

import importlib
import pkgutil

# Every public name of every module here, re-exported: the list is made from each module's `__all__`.
__all__: list[str] = []
for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    globals().update({n: getattr(_module, n) for n in _module.__all__})
    __all__ += _module.__all__
__all__.sort()
