"""Exercise checks for notebooks 08 and 09 (DenseNet; U-Net and the stacked hourglass).

Re-exported by `reslib.checks`, so the notebooks call `rl.checks.check_*`.
"""

from __future__ import annotations

from reslib.checks import CheckResult, compare  # noqa: F401

__all__: list[str] = []
