"""Reference solutions for notebook 10's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

import torch


def filter_normalization(weight, direction):
    if weight.dim() < 2:
        return torch.zeros_like(direction)  # biases and BN parameters get no direction
    rows, d = weight.flatten(1), direction.flatten(1)  # (filters, fan_in)
    scale = rows.norm(dim=1) / d.norm(dim=1)  # one factor per filter
    return (d * scale[:, None]).reshape(direction.shape)


def rezero_block(x, w1, w2, alpha):
    return x + alpha * (torch.relu(x @ w1.T) @ w2.T)  # x (N, width); alpha = 0: the identity


def width_for_budget(depth, budget, in_features, out_features):
    def parameters(w):  # stem, depth blocks, head: weights and biases
        return (in_features + 1) * w + depth * (w * w + w) + (w + 1) * out_features

    width = 0
    while parameters(width + 1) <= budget:
        width += 1
    return width
