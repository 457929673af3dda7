"""Instant feedback for the notebooks' exercises: `core` holds the protocol, one module per topic.

Every `check_*` is re-exported here, so a notebook calls `rl.checks.check_lesion(...)`.
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
