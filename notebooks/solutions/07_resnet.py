"""Reference solutions for notebook 07's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

import torch


def stage_shapes(image_size, block):
    expansion = 1 if block == "basic" else 4
    size = (image_size + 1) // 2  # 7x7 conv, stride 2, padding 3
    size = (size + 1) // 2  # 3x3 max-pool, stride 2, padding 1
    shapes = []
    for i, width in enumerate((64, 128, 256, 512)):
        if i > 0:
            size = (size + 1) // 2  # the first block of layer2..4 has stride 2
        shapes.append((width * expansion, size, size))
    return shapes


def cifar_parameter_count(depth):
    n = (depth - 2) // 6
    total = 3 * 9 * 16 + 2 * 16  # stem conv + BN
    channels = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += 9 * channels * width + 2 * width + 9 * width * width + 2 * width
            channels = width  # option A: the shortcut has no parameters
    return total + 64 * 10 + 10  # fc


def pad_shortcut(x, out_channels, stride):
    x = x[:, :, ::stride, ::stride]  # (N, C, ceil(H / stride), ceil(W / stride))
    n, c, h, w = x.shape
    zeros = x.new_zeros(n, out_channels - c, h, w)  # the new channels carry nothing
    return torch.cat([x, zeros], dim=1)  # (N, out_channels, H', W')
