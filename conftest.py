"""Loaded by every pytest run in this repository (unit tests and nbval alike).

Predictions (`reslib.predictions`) go to a file of this run, never the learner's own: the kernels
nbval starts inherit the variable, so a notebook's prediction cells show the same outputs on every
machine, whatever the person running the tests has guessed before.
"""

import os
import tempfile

_run = tempfile.mkdtemp(prefix="reslib-")
os.environ["RESLIB_PREDICTIONS"] = os.path.join(_run, "predictions.json")
# Generated data sets (`reslib.data.cache_dir`) are cached in this run's folder too: the tests and
# notebooks generate a non-standard MNIST-1D set once per run (the standard one ships with reslib), and
# never read a cache another version left behind.
os.environ["RESLIB_CACHE"] = os.path.join(_run, "cache")
