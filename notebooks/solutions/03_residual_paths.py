"""Reference solutions for notebook 03's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

# Exercise 1: deleting blocks 0 and 5 of 12 removes every path through either of them; the paths
# left are those of the 10 remaining blocks: 2^10 in all, C(10, 6) of length 6 (not 924 / 4 = 231).
lesion_paths = [2**10, math.comb(10, 6)]


def lesion(model, drop):
    lesioned = copy.deepcopy(model)  # never change the trained model
    for i in drop:
        lesioned.blocks[i] = nn.Identity()  # skip connection only: h -> h
    return lesioned


def path_gradient(model, x, y, active):
    h0 = model.stem(x).detach().requires_grad_(True)  # the gradient is measured here
    h = h0
    for i, block in enumerate(model.blocks):
        f = block(h) - h  # the branch's output f(h); block(h) = h + f(h)
        h = h.detach() + f if i in active else h + f.detach()  # branch only, or skip only
    loss = F.cross_entropy(model.head(h), y)
    return torch.autograd.grad(loss, h0)[0]
