"""Reference solutions for notebook 02's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

import torch


def autocorrelation(g):
    c = g - g.mean()  # remove the mean: otherwise a constant offset looks like correlation
    n = len(c)
    r = torch.stack([(c[: n - k] * c[k:]).sum() for k in range(n)])
    return r / r[0]
