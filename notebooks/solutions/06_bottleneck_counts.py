"""Reference solutions for notebook 06's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

from torch import nn


class FixedBlock(nn.Module):
    """The broken block with a shortcut that makes the addition legal (option B where shapes differ)."""

    def __init__(self, in_channels=256, mid_channels=64, out_channels=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        if in_channels == out_channels:
            self.shortcut = nn.Identity()  # x can be added as it is
        else:  # bring x to F(x)'s channels: a 1x1 projection and its BN
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x):
        fx = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))  # F(x): (N, out_channels, H, W)
        return self.relu(fx + self.shortcut(x))


fixed_block = FixedBlock  # the name `check_fixed_block` is looked up by in the tests


def bottleneck_parameters(in_channels, planes):
    out = 4 * planes  # expansion 4
    convs = in_channels * planes + 9 * planes * planes + planes * out  # 1x1, 3x3, 1x1 (no biases)
    bns = 2 * planes + 2 * planes + 2 * out  # gamma and beta per channel
    projection = in_channels * out + 2 * out if in_channels != out else 0  # shortcut conv + BN
    return convs + bns + projection


# Bottleneck(256, 128, stride=2): convs 256*128 + 9*128*128 + 128*512 = 245,760; BNs 2*(128 + 128 + 512)
# = 1,536; the shortcut's 1x1 conv 256 -> 512 = 131,072 and its BN 1,024. The stride costs nothing.
first_bottleneck_parameters = 245_760 + 1_536 + 131_072 + 1_024
