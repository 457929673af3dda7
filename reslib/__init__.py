"""reslib: the package behind the residual-networks notebook series.

The notebooks tell the story; `reslib` holds the code they reuse, one module per topic:

- ground floor: `validate` (every argument check: types from annotations, values, tensors,
  devices), `runtime` (seed, device, a local RNG or thread count, a byte-bounded cache, trainings
  side by side), `workers` (the worker processes of `runtime.parallel`),
  `layers` (1-D/2-D layer classes, the residual add), `inits` (the initialisation names);
- data: `data` (MNIST-1D made offline, CIFAR-10 from local files), `scenes` (generated images
  of discs and squares for segmentation and keypoints), `sequences` (digit sequences to sort, and a
  training loop with learning-rate warm-up);
- models: `mlp` (and its parameter count at a given width and depth), `blocks`, `preact`, `resnet`,
  `densenet`, `unet`, `hourglass`, `batchnorm` (from scratch, and at inference: running statistics,
  folding), `normfree` (deep residual MLPs without batch
  norm: ReZero/SkipInit, Fixup, zero gamma), `attention` and `transformer` (a tiny pre-LN/post-LN
  transformer, parity with `nn.TransformerEncoderLayer`);
- analysis: `gradients`, `shattering`, `paths`, `variance`, `costs` (parameters, FLOPs and memory,
  measured or in closed form), `landscape` (loss slices along filter-normalised directions), `euler`
  (residual blocks as Euler steps), `stream` (a transformer's residual stream:
  gradients per block, the logit lens);
- training: `train` (`fit`, `evaluate`), `stacking` (several MLPs run as one, for `fit`);
- presentation: `viz` (figures and live explorers), `checks` (exercise feedback), `predictions`
  (the "Predict, then run" forms) and `language` (what they say: English, or Korean with
  `rl.set_language("ko")`).

Every module is an attribute (`rl.resnet`), and every figure, explorer and check is one hop away:
`rl.viz.variance_explorer()`, `rl.checks.check_lesion(...)`. The lists below are made from the
modules themselves, so a new module needs no entry here.
"""

import importlib
import pkgutil

from reslib.language import set_language  # the setup calls of every notebook, one hop away
from reslib.runtime import device, set_seed

__version__ = "0.1.0"

# Every public module of the package, imported so that `rl.<module>` works after `import reslib as rl`.
MODULES = tuple(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")

__all__ = ["device", "set_language", "set_seed"]
__all__ += MODULES
