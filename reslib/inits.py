r"""The initialisation vocabulary of the series: one name per published set-up.

A layer's weights are drawn with variance $\sigma_w^2 = g / \mathrm{fan\_in}$; `INITS` maps each
name to its gain $g = \sigma_w^2 \cdot \mathrm{fan\_in}$:

- `"he"` keeps $E[h^2]$ constant through ReLU layers (He et al. 2015);
- `"glorot"` keeps the variance through linear or tanh layers (Glorot and Bengio 2010:
  $2 / (\mathrm{fan\_in} + \mathrm{fan\_out})$, which is $1 / \mathrm{fan\_in}$ for a square layer).

Modules that offer more choices (`mlp`'s "auto" and "torch", the transformer's "gpt2") use these
names for these two, never a synonym such as "xavier" or "kaiming".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["INITS"]

# Read-only: a notebook that wrote INITS["he"] = 1.0 would change every later init silently.
INITS: Mapping[str, float] = MappingProxyType({"he": 2.0, "glorot": 1.0})
