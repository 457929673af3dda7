"""Reference solutions for notebook 06's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""


def conv_parameters(k, c_in, c_out, bias):
    return k * k * c_in * c_out + (c_out if bias else 0)  # one k x k x C_in kernel per output channel


def bottleneck_parameters(in_channels, planes):
    out = 4 * planes  # expansion 4
    convs = in_channels * planes + 9 * planes * planes + planes * out  # 1x1, 3x3, 1x1 (no biases)
    bns = 2 * planes + 2 * planes + 2 * out  # gamma and beta per channel
    projection = in_channels * out + 2 * out if in_channels != out else 0  # shortcut conv + BN
    return convs + bns + projection
