"""Loaded by every pytest run in this repository (unit tests and nbval alike).

Predictions (`reslib.predictions`) go to a file of this run, never the learner's own: the kernels
nbval starts inherit the variable, so a notebook's prediction cells show the same outputs on every
machine, whatever the person running the tests has guessed before.
"""

import contextlib
import os
import pprint
import tempfile

_run = tempfile.mkdtemp(prefix="reslib-")
os.environ["RESLIB_PREDICTIONS"] = os.path.join(_run, "predictions.json")
# Generated data sets (`reslib.data.cache_dir`) are cached in this run's folder too: the tests and
# notebooks generate a non-standard MNIST-1D set once per run (the standard one ships with reslib), and
# never read a cache another version left behind.
os.environ["RESLIB_CACHE"] = os.path.join(_run, "cache")


class LazyFormat:
    """`pprint.pformat(obj)`, computed when the text is asked for (`str`), not when it is made.

    nbval logs every kernel message at debug level as `logger.debug("...%s", pformat(msg))`, which
    formats the message even when no debug log is kept: on notebook 11 (many plot outputs) that cost
    the test process 1.3 s of its 31 (measured under nbval on 2 cores). Given this in pformat's place,
    the debug log, when kept, reads the same, and otherwise nothing is formatted.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: object):
        self.obj = obj

    def __str__(self) -> str:
        return pprint.pformat(self.obj)


with contextlib.suppress(ImportError):  # without nbval, no notebook runs here
    from nbval import kernel as _nbval_kernel

    if getattr(_nbval_kernel, "pformat", None) is pprint.pformat:
        _nbval_kernel.pformat = LazyFormat
