"""Reference solutions for notebook 08 (DenseNet). Try the exercises first."""

import torch
from torch import nn

import reslib as rl

# Exercise 1: block 1 returns k0 + 5k = 25 + 60 = 85 channels (its input survives, each layer adds
# k); the transition keeps floor(0.5 * 85) = 42 of them.
channels_after_transition = 42

# Exercise 2: every large weight tensor is a product of two widths that both scale with k (the 3x3
# conv is 4k x k, the 1x1 reads c = 2k + l k and writes 4k), so doubling k multiplies the parameters
# by about 4; BN and the classifier grow only linearly: 3,020,506 / 769,162 = 3.93.
growth_rate_factor = 3.93


# Exercise 3: layer i reads the block input and the i outputs before it, k0 + i k channels.
class MyDenseBlock(nn.Module):
    def __init__(self, num_layers, in_channels, growth_rate):
        super().__init__()
        self.layers = nn.ModuleList(
            rl.densenet.DenseLayer(in_channels + i * growth_rate, growth_rate) for i in range(num_layers)
        )

    def forward(self, x):
        features = [x]  # (N, k0, H, W), then one (N, k, H, W) per layer
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)  # (N, k0 + num_layers k, H, W)


my_dense_block = MyDenseBlock  # the name rl.checks.check_my_dense_block's tests look up
