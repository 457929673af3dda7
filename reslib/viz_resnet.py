"""Figures and live explorers for notebooks 06 and 07 (bottleneck parameter counts; ResNet).

Pure figure builders (results -> `go.Figure`) and thin explorer wiring over
`reslib.widgets.Explorer`; the compute they show lives in the topic modules.
"""

from __future__ import annotations

__all__: list[str] = []
