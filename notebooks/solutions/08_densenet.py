"""Reference solutions for notebook 08 (DenseNet). Try the exercises first."""


def dense_block_channels(k0: int, k: int, num_layers: int) -> list[int]:
    """Input channels of each dense layer, then the block's output channels."""
    return [k0 + layer * k for layer in range(num_layers + 1)]


def transition_parameters(m: int, theta: float) -> int:
    """BN (2 per channel) + a bias-free 1x1 conv from m to floor(theta * m) channels."""
    return 2 * m + m * max(1, int(theta * m))
