"""reslib: the package behind the residual-networks notebook series.

The notebooks tell the story; `reslib` holds the code they reuse, one module per topic:

- ground floor: `argtypes` (`@typechecked`: every public callable's argument types, checked against
  its annotations), `core` (value checks and memory bounds, 1-D/2-D layers, `residual_add`),
  `tensors` (tensor arguments: dtype, dimensions, batches), `runtime` (seed, device);
- data: `data` (MNIST-1D made offline, CIFAR-10 from local files), `scenes` (generated images
  of discs and squares for segmentation and keypoints), `sequences` (digit sequences to sort, and a
  training loop with learning-rate warm-up);
- models: `mlp`, `blocks`, `preact`, `resnet`, `densenet`, `unet`, `hourglass`, `batchnorm` (from scratch)
  and `batchnorm_eval` (running statistics, folding), `normfree` (deep residual MLPs without batch
  norm: ReZero/SkipInit, Fixup, zero gamma), `attention` and `transformer` (a tiny pre-LN/post-LN
  transformer, parity with `nn.TransformerEncoderLayer`);
- analysis: `gradients`, `shattering`, `paths`, `variance`, `counting` (measured), `costs` (closed form),
  `landscape` (loss slices along filter-normalised directions), `euler` (residual blocks as Euler
  steps), `widthdepth` (equal-parameter width and depth), `stream` (a transformer's residual stream:
  gradients per block, the logit lens);
- training: `train` (`fit`, `evaluate`);
- presentation: `viz` (figures and live explorers) and `checks` (exercise feedback).

Every figure, explorer and check is one hop away: `rl.viz.variance_explorer()`,
`rl.checks.check_lesion(...)`.
"""

from reslib import (
    argtypes,
    attention,
    batchnorm,
    batchnorm_eval,
    blocks,
    checks,
    core,
    costs,
    counting,
    data,
    densenet,
    euler,
    gradients,
    hourglass,
    landscape,
    mlp,
    normfree,
    paths,
    preact,
    resnet,
    runtime,
    scenes,
    sequences,
    shattering,
    stream,
    tensors,
    train,
    transformer,
    unet,
    variance,
    viz,
    widthdepth,
)
from reslib.runtime import device, set_seed

__version__ = "0.1.0"

__all__ = [
    "argtypes",
    "attention",
    "batchnorm",
    "batchnorm_eval",
    "blocks",
    "checks",
    "core",
    "costs",
    "counting",
    "data",
    "densenet",
    "device",
    "euler",
    "gradients",
    "hourglass",
    "landscape",
    "mlp",
    "normfree",
    "paths",
    "preact",
    "resnet",
    "runtime",
    "scenes",
    "sequences",
    "set_seed",
    "shattering",
    "stream",
    "tensors",
    "train",
    "transformer",
    "unet",
    "variance",
    "viz",
    "widthdepth",
]
