"""Exercise checks for notebooks 04 and 05 (forward variance; batch normalization from scratch).

Re-exported by `reslib.checks`, so the notebooks call `rl.checks.check_*`.
"""

from __future__ import annotations

from reslib.checks import CheckResult, compare  # noqa: F401

__all__: list[str] = []
