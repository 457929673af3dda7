"""reslib: the package behind the residual-networks notebook series.

The notebooks tell the story; `reslib` holds the code they reuse:
`mlp` (plain and residual networks), `data` (MNIST-1D, made offline),
`train` (a fast training loop), `gradients`, `counting`, `plotting`,
`widgets` (live explorers) and `checks` (exercise feedback).
"""

from reslib import (
    batchnorm,
    blocks,
    checks,
    counting,
    data,
    densenet,
    gradients,
    mlp,
    paths,
    plotting,
    resnet,
    shapes,
    shattering,
    train,
    unet,
    variance,
    viz_dense,
    viz_norm,
    viz_paths,
    viz_resnet,
    widgets,
)
from reslib.runtime import device, set_seed

__version__ = "0.1.0"

__all__ = [
    "batchnorm",
    "blocks",
    "checks",
    "counting",
    "data",
    "densenet",
    "device",
    "gradients",
    "mlp",
    "paths",
    "plotting",
    "resnet",
    "set_seed",
    "shapes",
    "shattering",
    "train",
    "unet",
    "variance",
    "viz_dense",
    "viz_norm",
    "viz_paths",
    "viz_resnet",
    "widgets",
]
