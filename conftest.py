"""Loaded by every pytest run in this repository (unit tests and nbval alike).

Predictions (`reslib.predictions`) go to a file of this run, never the learner's own: the kernels
nbval starts inherit the variable, so a notebook's prediction cells show the same outputs on every
machine, whatever the person running the tests has guessed before.
"""

import os
import tempfile

os.environ["RESLIB_PREDICTIONS"] = os.path.join(tempfile.mkdtemp(prefix="reslib-"), "predictions.json")
