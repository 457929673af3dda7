"""Exercise checks for notebooks 02 and 03 (shattered gradients; residual blocks, paths and lesions).

Re-exported by `reslib.checks`, so the notebooks call `rl.checks.check_*`.
"""

from __future__ import annotations

from reslib.checks import CheckResult, compare  # noqa: F401

__all__: list[str] = []
