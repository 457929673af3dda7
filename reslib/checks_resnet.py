"""Exercise checks for notebooks 06 and 07 (bottleneck parameter counts; ResNet).

Re-exported by `reslib.checks`, so the notebooks call `rl.checks.check_*`.
"""

from __future__ import annotations

from reslib.checks import CheckResult, compare  # noqa: F401

__all__: list[str] = []
