"""Reference solutions for notebook 03's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

import copy
import math

from torch import nn


def count_paths(n, k):
    return math.comb(n, k)  # choose which k of the n blocks the path takes


def lesion(model, drop):
    lesioned = copy.deepcopy(model)  # never change the trained model
    for i in drop:
        lesioned.blocks[i] = nn.Identity()  # skip connection only: h -> h
    return lesioned
