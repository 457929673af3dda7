"""Runnable evidence: every check a notebook reports but does not run by default.

A notebook's Run All stays within its time budget, so some of what its prose reports (more seeds,
more epochs, other widths) is measured here instead. Each such sentence cites a key,
[evidence `key`], and each key is a `Claim` registered in one topic module of this package: its
check re-runs the experiment, asserts what the sentence says with the sentence's margin, and returns
the numbers it measured. Run them from a shell:

    make evidence                      # every claim, a table at the end; exit 1 if one fails
    make evidence ONLY=unet-classes    # one claim (or several, or a prefix such as ONLY=unet)

or from a notebook cell: `rl.evidence.run("unet-classes")`.
"""

import importlib
import pkgutil

from reslib.evidence.core import CLAIMS, Claim, Row, claim, run, table

__all__ = ["CLAIMS", "Claim", "Row", "claim", "run", "table"]

# Every topic module here registers its claims when imported.
for _info in pkgutil.iter_modules(__path__):
    if _info.name not in ("core", "__main__"):
        importlib.import_module(f"{__name__}.{_info.name}")
