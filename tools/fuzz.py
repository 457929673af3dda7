"""Feed every public callable of `reslib` bad arguments, one at a time, and sort what happens.

    python -m tools.fuzz [--json FILE]

Discovery is automatic: every function and class named in any `__all__` of `reslib` and its
subpackages; every `nn.Module` among them (its `forward`); every record (frozen dataclass, named
tuple); every explorer in `reslib.viz.EXPLORERS`. Each gets one *valid* call: its defaults, plus a
value for each required argument from `VALID` (by argument name) or `EXAMPLES` (by callable); a
module a valid input (`FORWARD_INPUTS`, or the first small candidate that runs); a record an
instance that a valid call returned (or `RECORDS`); an explorer its registry demo. Whatever cannot
be built is listed as `no example`, and the test fails until one is added here.

The probes, each replacing one argument of the valid call:
- wrong types: a string, a float, a bool, None, an int, a module instance, a list (whichever do
  not match the annotation). Expected: `TypeError` naming the argument.
- NaN for a float: never valid. Expected: `ValueError` naming the argument.
- edge values: -1, 0 and 10**12 for an int, -1 and inf for a float, "bogus" for a string.
- tensors (`tensor_probes`): NaN, inf, float16, complex64, integers for floats (floats for
  integers), a meta tensor, a dimension more (x[None]) or less (x[0]), the last size + 1, an empty
  batch, the tensor as a NumPy array and as a nested list.
- sizes at the bound (`bound_probes`): where 10**12 is refused, the largest value accepted (read
  from "must be an int in [lo, hi]", or bisected on dry runs against `MEMORY_LIMIT`: `_dry`) must
  return within the CPU budget, and the value just past it must be refused clearly.
- `forward` of every module: its input as above, plus None, a string and a list.
- records: each field None or of a wrong type, NaN, or one shorter than the fields of its length.
- `Explorer.update`: each control None, a string, NaN, past its slider's range; then the explorer
  must update with the control's first value again.
An error must be a clear one; an edge value may be valid: returning is fine where `VALID_EDGES`
says so, with the reason; anywhere else it is a silent accept.

Outcomes: `clear` (TypeError/ValueError raised in reslib, naming the argument), `accepted` (an
edge value in `VALID_EDGES` returned), `silent` (anything else returned), `unclear` (any other
error, or one that does not name the argument), `slow` (past `CPU_BUDGET` seconds of CPU time, on
one thread: load on the machine does not count), `hang` (past `HANG_LIMIT` seconds of wall time
without using that CPU), `crash` (MemoryError, an allocation the address-space cap refused, or the
process killed), `stuck` (an explorer that no longer updates after a bad value). The run forks
`WORKERS` processes under an address-space limit, so a runaway allocation fails instead of taking
the machine down, and a probe that kills its worker is recorded and the run goes on without it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import math
import multiprocessing
import os
import pkgutil
import re
import resource
import selectors
import signal
import sys
import time
import traceback
import types
import typing
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

# One thread, set before torch loads OpenMP: the run's time budget is CPU time on one thread, and
# under the address-space cap a forked worker could not start OpenMP's thread pool anyway.
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
import torch
from torch import nn

# Stored predictions go to a throw-away file: the fuzz calls rl.predictions.forget().
os.environ["RESLIB_PREDICTIONS"] = os.path.join(__import__("tempfile").mkdtemp(), "predictions.json")

import reslib as rl
from reslib.validate import matches

# Time per call, as CPU time of the (one-threaded) process: a loaded machine stretches wall time, not
# this. A learner's call with tiny shapes, or at a bound reslib states, returns well within it.
CPU_BUDGET = 3.0  # seconds
# A size at the bound a callable states (its range, the largest under MEMORY_LIMIT) is a deliberate
# big run, not a probe's typo: it may take longer, but well under a minute (the fuzz's own budget).
# The largest, `mnist1d(num_samples=25_000)`, is "about 10 s" (reslib.data) and took 10-13.8 s on a
# 2-core AMD EPYC (AVX2): CPU time differs from CPU to CPU, and a budget at the bound's own time fails.
BOUND_BUDGET = 20.0  # seconds of CPU
HANG_LIMIT = 30.0  # seconds of wall time: only to stop a call that waits without computing
HUGE = 10**12
PACKAGE = Path(rl.__file__).parent


def _public():
    """(module name, name, object) for every name in any `__all__` of reslib and its subpackages."""
    packages = pkgutil.walk_packages(rl.__path__, "reslib.")
    names = ["reslib", *(m.name for m in packages if not m.name.endswith(".__main__"))]  # no CLIs
    for module_name in sorted(names):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            yield module_name, name, getattr(module, name)


def discover() -> dict[str, object]:
    """'module.name' -> every public function and class, each once (at its first `__all__`).

    Exceptions and records (dataclasses, named tuples) are left to `records()`.
    """
    found: dict[str, object] = {}
    seen: set[int] = set()
    for _, name, obj in _public():
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if inspect.isclass(obj) and (
            issubclass(obj, (BaseException, tuple)) or dataclasses.is_dataclass(obj)
        ):
            continue
        found[f"{obj.__module__}.{name}"] = obj
    return found


def _data() -> rl.data.TensorData:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 40, generator=g), torch.arange(16) % 10
    return rl.data.TensorData(x[:12], y[:12], x[12:], y[12:], 10)


def _residual_mlp() -> nn.Module:
    return rl.mlp.mlp(2, 8, 40, 10, residual=True)


def _diagram() -> rl.viz.Diagram:
    d = rl.viz.Diagram("a box")
    d.box(0, 0, "x")
    return d


# Valid values by argument name, for arguments without a default.
VALID: dict[str, Callable[[], object]] = {
    **{
        k: (lambda v=v: v)
        for k, v in dict(
            depth=2,
            width=8,
            in_features=40,
            out_features=10,
            in_channels=4,
            out_channels=4,
            planes=4,
            kernel_size=3,
            growth_rate=4,
            num_init_features=8,
            num_layers=2,
            num_features=3,
            num_classes=2,
            num_keypoints=2,
            num_blocks=1,
            n_blocks=4,
            order=1,
            size=8,
            stride=2,
            seed=0,
            epochs=1,
            max_depth=3,
            dim=1,
            max_bytes=1000,
            nbytes=10,
            lr=0.1,
            momentum=0.1,
            gain=2.0,
            residual_scale=1.0,
            shortcut_scale=1.0,
            survival=0.5,
            target=1.0,
            w1=0.5,
            w2=0.5,
            w3=0.5,
            wr=0.5,
            residual=True,
            name="x",
            title="t",
            yaxis="y",
            hint="a hint",
        ).items()
    },
    "data": _data,
    "model": _residual_mlp,
    "x": lambda: torch.randn(4, 40),
    "y": lambda: torch.arange(4),
    "fn": lambda: lambda *args: 0,
}


def _history() -> rl.train.History:
    return rl.train.History([1.0, 0.5], [1.2, 0.7], [0.5, 0.3], [0.6, 0.4])


def _bn_cache() -> dict:
    x, gamma, beta = torch.randn(8, 3), torch.ones(3), torch.zeros(3)
    return dict(dy=torch.randn(8, 3), cache=rl.batchnorm.batch_norm_forward(x, gamma, beta)[1])


def _scene() -> dict:
    data = rl.scenes.segmentation(4, size=16)
    return dict(x=data.x, mask=data.mask)


def _keypoints() -> rl.scenes.KeypointData:
    return rl.scenes.keypoints(2, size=16)


def _shortcut() -> list:
    return [rl.preact.shortcut_gradients(4, 0.5, 0.1, width=4, batch_size=4)]


def _shattering_net() -> nn.Module:
    return rl.shattering.shattering_net(3, residual=True, width=8).eval()


def _slice_data() -> tuple:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, generator=g), torch.randint(0, 2, (8,), generator=g)


def _slice_2d():
    return rl.landscape.loss_slice_2d(nn.Linear(3, 2), _slice_data(), steps=3, span=0.5)


def _slice_1d():
    return rl.landscape.loss_slice_1d(nn.Linear(3, 2), _slice_data(), steps=3)


def _short_history() -> rl.train.History:
    return rl.train.History([1.0, 0.5], [0.5, 0.4])


def _tiny_transformer() -> nn.Module:
    return rl.transformer.transformer(10, 8, 2, 8, 2)


def _sequences() -> rl.sequences.SequenceData:
    return rl.sequences.sequence_task(16, 8, device="cpu")


def _tokens() -> dict:
    data = _sequences()
    return dict(model=_tiny_transformer(), x=data.x_test, y=data.y_test)


def _readout() -> rl.stream.StreamReadout:
    return rl.stream.logit_lens(**_tokens())


def _profile_run() -> tuple:
    run = rl.sequences.SequenceRun(torch.ones(3).numpy(), 0.5, None, 1e-3, 0)
    return rl.stream.gradient_profile(**_tokens()), run


_T = torch.randn  # a fresh tensor on every call: answers and probes cannot share one
_SCALARS = lambda: [torch.linspace(-1, 1, 8)]
_MAPS = lambda: {"a": [1.0, 0.5], "b": [0.3, 0.2]}

# Valid calls by callable, where the argument names alone do not say enough.
EXAMPLES: dict[str, Callable[[], dict]] = {
    "reslib.validate.require_type": lambda: dict(name="x", value=1, annotation=int),
    "reslib.validate.describe": lambda: dict(annotation=int),
    "reslib.validate.matches": lambda: dict(value=1, annotation=int),
    "reslib.validate.sized": lambda: dict(formula=lambda **_: 0),
    "reslib.batchnorm.batch_norm_backward": _bn_cache,
    "reslib.batchnorm.batch_norm_backward_simplified": _bn_cache,
    "reslib.batchnorm.batch_norm_forward": lambda: dict(x=_T(8, 3), gamma=torch.ones(3), beta=torch.zeros(3)),
    "reslib.batchnorm.fold_into_conv": lambda: dict(
        conv=nn.Conv2d(2, 3, 3, bias=False), bn=nn.BatchNorm2d(3).eval()
    ),
    "reslib.batchnorm.inference_affine": lambda: dict(bn=nn.BatchNorm1d(3).eval()),
    "reslib.batchnorm.running_stats_trace": lambda: dict(batch_size=8, momentum=0.1, steps=5),
    "reslib.blocks.require_block": lambda: dict(block=rl.blocks.BasicBlock),
    "reslib.blocks.zero_last": lambda: dict(norm=nn.BatchNorm2d(4), conv=nn.Conv2d(4, 4, 3)),
    "reslib.blocks.make_stage": lambda: dict(
        block=rl.blocks.BasicBlock, in_channels=4, planes=4, num_blocks=1
    ),
    "reslib.checks.batchnorm.check_bn_residual_block": lambda: dict(
        cls=lambda w: rl.mlp.ResidualBlock(w, "relu", "batch", 1.0)
    ),
    "reslib.checks.core.compare": lambda: dict(
        name="x", fn=lambda a: a, reference=lambda a: a, cases=[(1.0,)], hint="h"
    ),
    "reslib.checks.core.tiered_hint": lambda: dict(name="x", hint="h"),
    "reslib.checks.core.compare_value": lambda: dict(name="x", answer=2, measure=lambda: 2, hint="h"),
    "reslib.checks.core.limit_hints": lambda: dict(tiers=None),  # None: the default, left as it was
    "reslib.checks.grading.record": lambda: dict(check="check_channels_after_transition", solution=42),
    "reslib.checks.grading.grade": lambda: dict(
        check="check_channels_after_transition",
        answer=42,
        expected=rl.checks.record("check_channels_after_transition", 42),
    ),
    "reslib.language.tr": lambda: dict(template="off by {diff:.3g}", diff=0.25),
    "reslib.viz.explorer.architecture_label": lambda: dict(architecture="residual"),
    "reslib.viz.explorer.is_explorer_note": lambda: dict(
        text="<live explorer (depth): run this notebook to use it>"
    ),
    "reslib.viz.training.metric_label": lambda: dict(metric="test error"),
    "reslib.language.set_language": lambda: dict(code="en"),  # the default: the fuzz stays in English
    "reslib.language.local_language": lambda: dict(code="ko"),
    "reslib.predictions.Prediction": lambda: dict(key="01-fuzz", question="How many?"),
    "reslib.predictions.predict": lambda: dict(key="01-fuzz", question="How many?", options=[1, 2]),
    "reslib.viz.diagram.layer_label": lambda: dict(module=nn.Conv2d(2, 4, 3, stride=2)),
    "reslib.viz.diagram.shape_label": lambda: dict(shape=(2, 3, 8, 8)),
    "reslib.viz.diagram.spatial_label": lambda: dict(shape=(2, 3, 8, 8)),
    "reslib.viz.diagram.side_by_side": lambda: dict(diagrams=[_diagram(), _diagram()]),
    "reslib.viz.diagram.trace": lambda: dict(module=_residual_mlp(), inputs=_T(2, 40)),
    "reslib.viz.mlp.mlp_diagram": lambda: dict(net=_residual_mlp()),
    "reslib.viz.paths.unraveled_paths_diagram": lambda: dict(net=_residual_mlp()),
    "reslib.checks.paths.check_lesion_paths": lambda: dict(answer=[1024, 210]),
    "reslib.viz.transformer.transformer_block_diagram": lambda: dict(model=_tiny_transformer()),
    "reslib.viz.normfree.normfree_diagram": lambda: dict(
        model=rl.normfree.normfree_mlp(2, 8, 40, 10, "fixup")
    ),
    "reslib.checks.transformer.check_identity_block": lambda: dict(
        cls=lambda d, h, f: rl.transformer.Block(d, h, f)
    ),
    "reslib.checks.transformer.check_stream_growth": lambda: dict(answer=4.0),
    "reslib.viz.resnet.block_diagram": lambda: dict(block=rl.blocks.BasicBlock(4, 4), input_size=8),
    "reslib.viz.resnet.resnet_diagram": lambda: dict(model=rl.resnet.cifar_resnet(8, width=4), input_size=8),
    "reslib.checks.resnet.check_fixed_block": lambda: dict(cls=lambda *args: nn.Identity()),
    "reslib.checks.resnet.check_first_bottleneck_parameters": lambda: dict(answer=379_392),
    "reslib.checks.unet.check_valid_output_size": lambda: dict(answer=212),
    "reslib.checks.unet.check_tile_size": lambda: dict(answer=396),
    "reslib.checks.unet.check_background_only_iou": lambda: dict(answer=[0.78, 0.0, 0.0]),
    "reslib.checks.hourglass.check_hourglass_modules": lambda: dict(answer=113),
    "reslib.viz.unet.unet_diagram": lambda: dict(
        model=rl.unet.UNet(1, 2, depth=2, base_channels=2, batch_norm=False), input_size=188
    ),
    "reslib.viz.hourglass.hourglass_diagram": lambda: dict(
        model=rl.hourglass.StackedHourglass(1, 2, num_stacks=2, channels=8, order=2), input_size=16
    ),
    "reslib.checks.densenet.check_channels_after_transition": lambda: dict(answer=42),
    "reslib.checks.densenet.check_growth_rate_factor": lambda: dict(answer=3.93),
    "reslib.checks.densenet.check_my_dense_block": lambda: dict(cls=rl.densenet.DenseBlock),
    "reslib.viz.batchnorm.batch_norm_diagram": lambda: dict(bn=nn.BatchNorm2d(4), input_size=(8, 4, 5, 5)),
    "reslib.viz.densenet.dense_block_diagram": lambda: dict(
        block=rl.densenet.DenseBlock(2, 8, 4), input_size=8
    ),
    "reslib.checks.mlp.check_identity_init_block": lambda: dict(
        cls=lambda w: rl.mlp.ResidualBlock(w, "relu", None, 1.0)
    ),
    "reslib.checks.mlp.chain_gradient_reference": lambda: dict(
        x=1.0, w1=0.5, w2=0.5, w3=0.5, wr=0.5, target=1.0
    ),
    "reslib.checks.variance.second_moment_reference": lambda: dict(
        depth=3, gain=2.0, residual_scale=1.0, batch_norm=False
    ),
    "reslib.runtime.num_threads": lambda: dict(n=1),  # the fuzz runs on one thread already
    "reslib.runtime.parallel": lambda: dict(calls=[lambda: 1, lambda: 2]),
    "reslib.stacking.GroupedLinear": lambda: dict(weight=_T(2, 3, 4), bias=_T(2, 3)),
    "reslib.stacking.GroupedBatchNorm": lambda: dict(
        weight=_T(2, 3),
        bias=_T(2, 3),
        running_mean=_T(2, 3),
        running_var=torch.ones(2, 3),
        steps=torch.zeros(2, dtype=torch.long),
    ),
    "reslib.stacking.GroupedLayerNorm": lambda: dict(weight=_T(2, 3), bias=_T(2, 3)),
    "reslib.stacking.GroupedEmbedding": lambda: dict(weight=_T(2, 5, 3)),
    "reslib.stacking.groupable": lambda: dict(model=nn.Linear(4, 2)),
    "reslib.stacking.grouped": lambda: dict(models=[nn.Linear(4, 2), nn.Linear(4, 2)]),
    "reslib.stacking.require_stack": lambda: dict(models=[nn.Linear(4, 2), nn.Linear(4, 2)]),
    "reslib.runtime.step_flops": lambda: dict(model=nn.Linear(4, 2), example=_T(3, 4)),
    "reslib.runtime.device_for": lambda: dict(model=nn.Linear(4, 2), example=_T(3, 4), models=2),
    "reslib.validate.require_device": lambda: dict(name="x", value="cpu"),
    "reslib.validate.require_bool": lambda: dict(name="x", value=True),
    "reslib.validate.require_tensor": lambda: dict(name="x", value=_T(2, 3)),
    "reslib.validate.require_batch": lambda: dict(x=_T(4, 40), y=torch.arange(4)),
    "reslib.validate.require_choice": lambda: dict(name="x", value="a", choices=("a", "b")),
    "reslib.validate.require_float": lambda: dict(name="x", value=1.0),
    "reslib.validate.require_int": lambda: dict(name="x", value=1),
    "reslib.validate.require_memory": lambda: dict(name="x", value=1, nbytes=10),
    "reslib.validate.require_seed": lambda: dict(name="seed", value=0),
    "reslib.validate.require_array": lambda: dict(name="x", value=np.zeros(3), ndim=1),
    "reslib.guard.require_work": lambda: dict(given={"steps": 10}, flops=1e6, operations=10.0),
    # the guard on the first line of every forward: its other arguments are constants in reslib's
    # own code, and `x`, the one a learner sets, is probed through the modules' forward
    "reslib.guard.require_input": None,
    "reslib.attention.require_stream": None,  # require_input for the transformer's modules, as above
    "reslib.guard.input_layout": lambda: dict(dims="B, T, d_model", stacked=True),
    "reslib.layers.residual_add": lambda: dict(x=_T(2, 3), fx=_T(2, 3)),
    "reslib.costs.block_costs": lambda: dict(channels=64, planes=16, size=8),
    "reslib.costs.densenet_parameter_count": lambda: dict(
        growth_rate=4, block_config=(2, 2), num_init_features=8
    ),
    "reslib.costs.stage_costs": lambda: dict(block=rl.blocks.BasicBlock, layers=[1, 1, 1, 1]),
    "reslib.costs.count_flops": lambda: dict(model=nn.Linear(3, 2), input_shape=(1, 3)),
    "reslib.costs.parameter_table": lambda: dict(model=nn.Linear(3, 2), input_shape=(1, 3)),
    "reslib.evidence.core.claim": lambda: dict(key="fuzz-example", says="a claim never registered"),
    "reslib.evidence.core.table": lambda: dict(
        rows=[rl.evidence.Row("fuzz-example", "a claim", True, "1.0", 0.5)]
    ),
    # runs claims that train for minutes: tests/test_evidence.py covers it on made-up claims
    "reslib.evidence.core.run": None,
    "reslib.data.cifar10": None,
    # a small set: each seed probe generates its own (the default 5,000 signals take 1.6-2.5 s of CPU)
    "reslib.data.mnist1d": lambda: dict(num_samples=100),
    "reslib.data.require_clean": lambda: dict(tensors={"x": _T(4, 3), "y": torch.arange(4)}, labels=("y",)),
    "reslib.viz.explorer.require_control": lambda: dict(
        name="depth", value=2, control=__import__("ipywidgets").IntSlider(value=1, min=1, max=4)
    ),  # reads files: tests/test_data.py covers its arguments on a fixture
    "reslib.densenet.channel_plan": lambda: dict(growth_rate=4, block_config=(2, 2), num_init_features=8),
    "reslib.gradients.gradient_flow": lambda: dict(
        depth=3, activation="relu", x=_data().x_train, y=_data().y_train, width=8
    ),
    "reslib.hourglass.Hourglass": lambda: dict(order=1, channels=4),
    "reslib.hourglass.heatmap_loss": lambda: dict(heatmaps=[_T(2, 2, 8, 8)], target=_T(2, 2, 8, 8)),
    "reslib.hourglass.residual_module": lambda: dict(channels=4),
    "reslib.mlp.MLP": lambda: dict(stem=nn.Linear(40, 8), blocks=nn.Sequential(), head=nn.Linear(8, 10)),
    "reslib.mlp.PlainLayer": lambda: dict(in_features=4, out_features=4, activation="relu", norm=None),
    "reslib.mlp.ResidualBlock": lambda: dict(width=4, activation="relu", norm=None, residual_scale=1.0),
    "reslib.paths.RandomSkip": lambda: dict(block=nn.Linear(4, 4), survival=0.5),
    "reslib.paths.ShortPathTraining": lambda: dict(model=_residual_mlp(), branches=1),
    "reslib.paths.effective_paths": lambda: dict(n_blocks=4, magnitude=[1.0, 0.5, 0.25, 0.1, 0.05]),
    "reslib.paths.lesion": lambda: dict(model=_residual_mlp(), drop=0),
    "reslib.paths.reorder": lambda: dict(model=_residual_mlp(), order=[1, 0]),
    "reslib.paths.path_gradient": lambda: dict(
        model=_residual_mlp(), x=_T(4, 40), y=torch.arange(4), active=[0]
    ),
    "reslib.paths.unravel": lambda: dict(blocks=[nn.Linear(3, 3), nn.Linear(3, 3)], x=_T(2, 3)),
    "reslib.resnet.ResNet": lambda: dict(
        block=rl.blocks.BasicBlock, layers=[1], widths=(4,), stem_type="cifar"
    ),
    "reslib.scenes.edge_band": lambda: dict(mask=_scene()["mask"]),
    "reslib.scenes.gaussian_heatmaps": lambda: dict(coords=_keypoints().coords, size=16),
    "reslib.scenes.heatmap_argmax": lambda: dict(heatmaps=_keypoints().heatmaps),
    "reslib.scenes.iou": lambda: dict(pred=_scene()["mask"], target=_scene()["mask"]),
    "reslib.shattering.autocorrelation": lambda: dict(g=_T(32)),
    "reslib.shattering.depth_gradients": lambda: dict(model=_shattering_net(), x=_SCALARS()[0]),
    "reslib.shattering.input_gradients": lambda: dict(model=_shattering_net(), x=_SCALARS()[0]),
    "reslib.train.evaluate": lambda: dict(model=_residual_mlp(), x=_data()),
    "reslib.unet.segmentation_loss": lambda: dict(logits=_T(4, 3, 16, 16), mask=_scene()["mask"]),
    "reslib.viz.explorer.Explorer": None,  # its arguments are widgets built by the explorers tested here
    "reslib.viz.explorer.image_grid": lambda: dict(z=_T(4, 4)),
    "reslib.viz.static.static_explorer": lambda: dict(explorer=rl.viz.euler_explorer(), controls="depth"),
    "reslib.viz.static.control_grid": lambda: dict(explorer=rl.viz.euler_explorer(), controls="depth"),
    "reslib.viz.explorer.find_trace": lambda: dict(figure=rl.viz.euler_figure(), key="plain 0"),
    # the euler explorer's own entry again: registering it replaces the entry with an equal one
    "reslib.viz.registry.register_explorer": lambda: {
        k: getattr(rl.viz.EXPLORERS["euler_explorer"], k) for k in ("factory", "demo", "sweep", "notebook")
    },
    "reslib.viz.explorer.image_trace": lambda: dict(z=_T(4, 4)),
    "reslib.viz.explorer.plain_list": lambda: dict(values=[1.0, 2.0]),
    "reslib.viz.training.bar_figure": lambda: dict(values={"a": 1.0}, title="t", yaxis="y"),
    "reslib.viz.variance.branch_share_figure": lambda: dict(shares=_MAPS()),
    "reslib.viz.variance.variance_figure": lambda: dict(profiles=_MAPS()),
    "reslib.viz.training.curves_figure": lambda: dict(histories={"a": _history()}),
    "reslib.viz.training.training_curves_figure": lambda: dict(histories={"a": _history()}, final=_MAPS()),
    "reslib.viz.gradients.gradient_norms_figure": lambda: dict(norms=_MAPS()),
    "reslib.viz.shattering.lag1_figure": lambda: dict(curves=_MAPS()),
    "reslib.viz.batchnorm.lr_sweep_figure": lambda: dict(lrs=[0.1, 1.0], losses=_MAPS()),
    "reslib.viz.paths.lesion_figure": lambda: dict(errors=_MAPS(), baseline={"a": 0.1, "b": 0.2}),
    "reslib.viz.paths.lesion_explorer": lambda: dict(models={"a": _residual_mlp().eval()}, data=_data()),
    "reslib.viz.hourglass.keypoint_grid_figure": lambda: dict(
        x=_keypoints().x, heatmaps=_keypoints().heatmaps, coords=_keypoints().coords, n=2
    ),
    "reslib.viz.hourglass.heatmap_figure": lambda: dict(
        x=_keypoints().x[0], heatmaps=_keypoints().heatmaps[0], coords=_keypoints().coords[0]
    ),
    "reslib.viz.hourglass.hourglass_explorer": lambda: dict(
        x=_keypoints().x, outputs=[_keypoints().heatmaps], coords=_keypoints().coords
    ),
    "reslib.viz.resnet.resnet_explorer": lambda: dict(histories={"ResNet-18": _history()}),
    "reslib.viz.unet.segmentation_figure": lambda: dict(predictions={"a": _scene()["mask"]}, **_scene()),
    "reslib.viz.shattering.shattering_figure": lambda: dict(
        results={"a": rl.shattering.shattering(3, residual=True, width=8, n_inputs=64)}
    ),
    "reslib.resnet.cifar_resnet": lambda: dict(depth=8, width=4),
    "reslib.resnet.layer_responses": lambda: dict(
        model=rl.resnet.cifar_resnet(depth=8, width=4), x=torch.randn(2, 3, 8, 8)
    ),
    "reslib.shattering.shattering_net": lambda: dict(depth=3, residual=True, width=8),
    "reslib.shattering.shattering": lambda: dict(depth=3, residual=True, width=8, n_inputs=16),
    "reslib.shattering.lag1_by_depth": lambda: dict(
        max_depth=3, residual=True, width=8, n_inputs=16, seeds=(0,)
    ),
    "reslib.train.make_optimizer": lambda: dict(model=nn.Linear(2, 2), name="sgd", lr=0.1),
    "reslib.unet.center_crop": lambda: dict(x=_T(1, 1, 8, 8), size=(4, 4)),
    "reslib.unet.unet_output_size": lambda: dict(size=572),
    "reslib.viz.resnet.network_costs": lambda: dict(name="ResNet-18"),
    "reslib.checks.landscape.filter_normalization_reference": lambda: dict(
        weight=_T(3, 4), direction=_T(3, 4)
    ),
    "reslib.checks.normfree.rezero_block_reference": lambda: dict(
        x=_T(2, 3), w1=_T(3, 3), w2=_T(3, 3), alpha=torch.tensor(0.5)
    ),
    "reslib.landscape.nonconvexity": lambda: dict(loss=torch.rand(4, 4).double().numpy(), spacing=0.1),
    "reslib.viz.landscape.landscape_explorer": lambda: dict(slices={(2, "plain"): _slice_2d()}),
    "reslib.viz.normfree.scheme_explorer": lambda: dict(
        results={("rezero", 4): (torch.ones(5).numpy(), _short_history())}
    ),
    "reslib.viz.landscape.slice_1d_figure": lambda: dict(slices={"a": _slice_1d()}),
    "reslib.viz.mlp.width_depth_figure": lambda: dict(
        errors={"e": torch.ones(2, 2).numpy()}, depths=[1, 2], widths=[3, 4], columns=["plain", "residual"]
    ),
    "reslib.mlp.width_for_budget": lambda: dict(depth=2, budget=20000, in_features=40, out_features=10),
    "reslib.viz.preact.shortcut_figure": lambda: dict(results=_shortcut()),
    "reslib.viz.resnet.responses_figure": lambda: dict(
        responses={"plain-8": [1.2, 1.1], "residual-8": [0.9, 0.8]}
    ),
    "reslib.attention.FeedForward": lambda: dict(d_model=8, d_ff=16),
    "reslib.attention.SelfAttention": lambda: dict(d_model=8, n_head=2),
    "reslib.attention.causal_mask": lambda: dict(length=4),
    "reslib.attention.require_heads": lambda: dict(d_model=8, n_head=2),
    "reslib.transformer.Block": lambda: dict(d_model=8, n_head=2),
    "reslib.transformer.Transformer": lambda: dict(
        vocab_size=10, block_size=8, n_out=10, blocks=nn.Sequential(rl.transformer.Block(8, 2)), d_model=8
    ),
    "reslib.transformer.to_torch_layer": lambda: dict(block=rl.transformer.Block(8, 2)),
    "reslib.transformer.transformer": lambda: dict(vocab_size=10, block_size=8, n_layer=2, d_model=8),
    "reslib.sequences.train_sequence_models": lambda: dict(
        models=[_tiny_transformer()], data=_sequences(), steps=2, lr=1e-3
    ),
    "reslib.sequences.sequence_accuracy": _tokens,
    "reslib.stream.gradient_profile": _tokens,
    "reslib.stream.logit_lens": _tokens,
    "reslib.viz.transformer.placement_figure": lambda: dict(results={"a": _profile_run()}),
    "reslib.viz.transformer.placement_explorer": lambda: dict(results={(2, "pre-LN", False): _profile_run()}),
    "reslib.viz.transformer.lens_figure": lambda: dict(readout=_readout()),
    "reslib.viz.transformer.lens_explorer": lambda: dict(readout=_readout()),
    "reslib.checks.transformer.logit_lens_reference": lambda: dict(
        model=_tiny_transformer(), idx=torch.randint(10, (2, 4))
    ),
}


# Valid inputs to `forward`, by module class, where the search in `forward_input` finds none: a
# tiny batch of the shape and dtype the example instance (built by its valid call) was made for.
FORWARD_INPUTS: dict[str, Callable[[nn.Module], torch.Tensor]] = {
    "reslib.transformer.Transformer": lambda m: torch.randint(10, (2, 4)),
    "reslib.unet.UNet": lambda m: _T(1, 4, 188, 188),
    "reslib.stacking.GroupedLinear": lambda m: _T(m.weight.shape[0], 5, m.weight.shape[2]),
    "reslib.blocks.PadShortcut": lambda m: _T(2, 4, 8, 8),
    "reslib.stacking.GroupedBatchNorm": lambda m: _T(m.weight.shape[0], 5, m.weight.shape[1]),
    "reslib.stacking.GroupedLayerNorm": lambda m: _T(m.weight.shape[0], 5, m.weight.shape[1]),
    "reslib.stacking.GroupedEmbedding": lambda m: torch.randint(m.weight.shape[1], (m.weight.shape[0], 5)),
    "reslib.blocks.BlockBase": None,  # the base of the conv blocks: forward is theirs
}

# Valid records, by class, where no valid call of the run returned one.
RECORDS: dict[str, Callable[[], object]] = {
    "reslib.layers.Layers": None,  # a table of layer classes by dimension, not a result
    "reslib.viz.registry.ExplorerEntry": lambda: rl.viz.EXPLORERS["euler_explorer"],
    "reslib.evidence.core.Claim": lambda: rl.evidence.core.Claim(
        "fuzz-example", "a claim", lambda: (True, "1")
    ),
    "reslib.predictions.Summary": lambda: rl.predictions.Summary((), "01"),
    "reslib.predictions.Reveal": None,
    "reslib.costs.LayerRow": lambda: rl.costs.parameter_table(nn.Sequential(nn.Linear(3, 2)), (1, 3)).rows[0],
    "reslib.evidence.core.Row": lambda: rl.evidence.Row("fuzz-example", "a claim", True, "1.0", 0.5),
    "reslib.viz.diagram.Box": lambda: rl.viz.diagram.Box(
        0.0, 0.0, 1.0, 1.0
    ),  # made by `Prediction.reveal` from a stored guess
}


def valid_call(target: Callable, key: str) -> dict | None:
    """Keyword arguments for one valid call of `target`, or None when none is known."""
    if key in EXAMPLES:
        return EXAMPLES[key]()
    fn = target.__init__ if inspect.isclass(target) else target
    kwargs = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if p.name not in VALID:
            return None
        kwargs[p.name] = VALID[p.name]()
    return kwargs


def _type_probes() -> list[object]:
    return ["zz", 2.5, True, None, 3, nn.Identity(), [1.5]]


def _one_element(x: torch.Tensor, value: float) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[0] = value
    return x


def tensor_probes(valid: object) -> list[tuple[str, object, str]]:
    """A valid tensor changed one way: its values, dtype, device, dimensions, last size or container.

    All are 'edge': a TypeError or a ValueError naming the argument is clear; returning is a silent
    accept unless `VALID_EDGES` gives the reason it is valid there.
    """
    if not isinstance(valid, torch.Tensor) or valid.ndim == 0 or valid.numel() == 0:
        return []
    found = []
    if valid.is_floating_point():
        found += [
            ("tensor nan", _one_element(valid, math.nan)),
            ("tensor inf", _one_element(valid, math.inf)),
            ("tensor float16", valid.half()),
            ("tensor complex64", valid.to(torch.complex64)),
            ("tensor int", valid.long()),
        ]
    else:
        found.append(("tensor float", valid.float()))
    found += [
        ("tensor meta", valid.to("meta")),
        ("tensor ndim+1", valid[None]),
        ("tensor ndim-1", valid[0]),
        ("tensor last+1", torch.cat([valid, valid[..., :1]], dim=-1)),
        ("tensor empty", valid[:0]),
        ("tensor numpy", valid.detach().numpy()),
        ("tensor list", valid.tolist()),
    ]
    return [(label, value, "edge") for label, value in found]


def probes(annotation: object, valid: object = None) -> list[tuple[str, object, str]]:
    """(label, bad value, kind) for one argument: kind 'type' and 'nan' must fail, 'edge' may pass."""
    found = [(f"type {v!r:.20}", v, "type") for v in _type_probes() if not matches(v, annotation)]
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    if int in members:
        found += [(f"edge {v}", v, "edge") for v in (-1, 0, HUGE)]
    if float in members:
        found += [("nan", math.nan, "nan"), ("edge -1.0", -1.0, "edge"), ("edge inf", math.inf, "edge")]
    if str in members and typing.get_origin(annotation) is not typing.Literal:
        found.append(("edge 'bogus'", "bogus", "edge"))
    return found + tensor_probes(valid)


def _raised_in_reslib(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


# Edge values that are valid inputs, reviewed by hand: (callable, argument, probes) as regular
# expressions on 'reslib.module.name', the argument and the probe's label, with the reason. Any
# other edge value that returns counts as `silent`, so a new function's edge cases get a look.
VALID_EDGES = [
    (
        r"reslib\.checks\.core\.limit_hints",
        r"tiers",
        r"edge \d+",
        "more tiers than any hint has shows every tier, as None does; the setting is one integer",
    ),
    (
        r"reslib\.(gradients\.gradient_flow|shattering\.(input|depth)_gradients)",
        r"x",
        r"tensor last\+1",
        "gradient_flow builds its network for x's features; the shattering grid (N,) takes any N",
    ),
    (
        r"reslib\.paths\.unravel",
        r"x",
        r"tensor ndim\+1",
        "the blocks map any leading axes, as a Linear takes (..., D); each term has x's shape",
    ),
    (
        r"reslib\.shattering\.autocorrelation",
        r"g",
        r"tensor (ndim\+1|last\+1|numpy)",
        "documented inputs: a sequence of any length N >= 2 or rows (S, N), a tensor or a NumPy array",
    ),
    (
        r"reslib\.stacking\.Grouped(Linear|BatchNorm|LayerNorm|Embedding)",
        r"weight|bias|running_mean|running_var",
        r"tensor (nan|inf)",
        "the M models' own weights: a diverged model's NaN stays in its slice and shows in its outputs; "
        "fit stops that model and trains the others (tests/test_train_stacked.py)",
    ),
    (r"reslib\.stacking\.GroupedLinear", r"weight", r"tensor last\+1", "the last axis is in_features: any"),
    (r"reslib\.stacking\.GroupedEmbedding", r"weight", r"tensor last\+1", "the last axis is the width: any"),
    (r"reslib\.stacking\.GroupedEmbedding\.forward", r"idx", r"tensor last\+1", "more ids per model: any"),
    (
        r"reslib\.guard\.input_layout",
        r"dims",
        r"edge .*",
        "the layout in words, as reslib's modules write it",
    ),
    (
        r"reslib\.unet\.center_crop",
        r"x",
        r"tensor (nan|inf|complex64|ndim\+1)",
        "a crop copies values of any dtype and keeps leading axes; it reads none (it runs inside "
        "UNet.forward), and the probed NaN lies in the margin it cuts off",
    ),
    (
        r"reslib\.(resnet\.layer_responses|scenes\.(edge_band|heatmap_argmax))",
        r"x|mask|heatmaps",
        r"tensor last\+1",
        "any width is valid: a ResNet pools adaptively; a mask of any width has edges, a heat map a maximum",
    ),
    (
        r"reslib\.checks\.transformer\.logit_lens_reference",
        r"idx",
        r"tensor last\+1",
        "one token more is still within the model's block_size",
    ),
    (
        r".*",
        r".*",
        r"tensor float16",
        "half precision is a floating-point dtype: computed in it, less exactly",
    ),
    (
        r".*\.forward",
        r".*",
        r"tensor empty",
        "a batch of no examples gives no outputs, as torch's own modules do",
    ),
    (
        r"reslib\.(runtime\.(step_flops|device_for)|viz\.diagram\.trace|layers\.residual_add"
        r"|blocks\.PadShortcut\.forward|unet\.center_crop|stacking\.\w+|checks\.normfree\.rezero_block_reference)",
        r".*",
        r"tensor meta",
        "shapes only: what runs on a meta tensor is how reslib counts FLOPs and traces diagrams",
    ),
    (r"reslib\.data\.require_clean", r"classes", r"edge 1000000000000", "more classes than the labels use"),
    (
        r"reslib\.runtime\.(step_flops|device_for)",
        r"example",
        r"tensor ndim[-+]1",
        "whatever the model runs on: an nn.Linear takes an unbatched input or extra leading axes",
    ),
    (
        r"reslib\.(runtime\.(step_flops|device_for)|viz\.diagram\.trace)",
        r"example|inputs",
        r"tensor (nan|inf)",
        "shapes only: FLOPs and traced sizes do not depend on values (a meta tensor is valid here too)",
    ),
    (r"reslib\.viz\.explorer\.image_(grid|trace)", r"z", r"tensor last\+1", "one image (H, W) of any width"),
    (
        r"reslib\.runtime\.device_for",
        r"example",
        r"tensor last\+1",
        "without a GPU the CPU is the answer and the model is not run (0.9 s of meta kernels saved in "
        "every setup cell); on a GPU machine step_flops runs it and refuses a wrong example",
    ),
    (r".*", r"seed", r"edge (0|1000000000000)", "any non-negative integer is a seed"),
    (
        r"reslib\.viz\.(explorer\.(architecture_label|is_explorer_note)|training\.metric_label)",
        r"architecture|metric|text",
        r"edge 'bogus'",
        "a label shown as it is (the words it knows translated), or any text asked whether it is a note",
    ),
    (
        r".*",
        r"\w*name|title|yaxis|xlabel|note|hint|slow_hint|fix|where|says|question|unit|what|template",
        r"edge 'bogus'",
        "free text: any string is a valid title, label or note (or a template tr has no translation of)",
    ),
    (
        r"reslib\.viz\.mlp\.mlp_diagram",
        r"max_blocks",
        r"edge 1000000000000",
        "more than the net has: all drawn",
    ),
    (
        r"reslib\.viz\.diagram\.trace",
        r"inputs",
        r"tensor (ndim-1|empty)",
        "whatever the module accepts (a Linear takes one example without a batch axis)",
    ),
    (
        r"reslib\.(costs\.\w+|densenet\.channel_plan|viz\.densenet\.channel_figure|unet\.unet_shape_trace"
        r"|viz\.unet\.unet_trace_figure|viz\.resnet\.block_cost_explorer)",
        r".*",
        r"edge 1000000000000",
        "closed-form counts: nothing is allocated",
    ),
    (
        r"reslib\.costs\.parameter_table",
        r"depth",
        r"edge 1000000000000",
        "deeper than the model: all modules",
    ),
    (
        r"reslib\.(validate\.require_\w+|runtime\.byte_cache)",
        r".*",
        r".*",
        "a validator's bounds",
    ),
    (
        r"reslib\.(batchnorm\.running_stats_trace|checks\.mlp\.chain_gradient_reference"
        r"|mlp\.ResidualBlock|viz\.explorer\.image_trace)",
        r"gamma|beta|x|w\d|wr|target|shortcut_scale|zmin|zmax",
        r"edge -1\.0",
        "any real number",
    ),
    (
        r"reslib\.(paths\.ShortPathTraining|checks\.variance\.second_moment_reference|paths\.lesion"
        r"|paths\.path_length_distribution|viz\.paths\.paths_figure|shattering\.autocorrelation)",
        r"branches|depth|drop|n_blocks|max_lag",
        r"edge 0",
        "zero branches, blocks or lags, index 0",
    ),
    (
        r"reslib\.(train\.(fit|evaluate)|viz\.gradients\.gradient_explorer)",
        r"batch_size",
        r"edge 1000000000000",
        "a batch larger than the data is the whole data",
    ),
    (r"reslib\.mlp\.width_for_budget", r"budget", r"edge 1000000000000", "closed form"),
    (
        r"reslib\.viz\.transformer\.lens_figure",
        r"block",
        r"edge 0",
        "0 is the embedding",
    ),
    (
        r"reslib\.sequences\.train_sequence_models",
        r"warmup",
        r"edge 0",
        "0 warm-up steps: the rate starts at its peak",
    ),
    (
        r"reslib\.(layers\.residual_add|scenes\.gaussian_heatmaps|shattering\.autocorrelation|unet\.center_crop"
        r"|viz\.explorer\.image_(grid|trace)|viz\.unet\.segmentation_figure|viz\.hourglass\.\w+)",
        r".*",
        r"tensor (int|float)",
        "integers add, crop, correlate and draw as well as floats",
    ),
    (
        r"reslib\.(costs\.saved_tensor_bytes|paths\.unravel|unet\.center_crop)",
        r"x",
        r"tensor (ndim-1|empty)",
        "one example without a batch axis (a Linear takes it); center_crop crops any (..., H, W)",
    ),
    (
        r".*",
        r".*",
        r"bound at \d+",
        "inside the bound the callable states itself (its range, or the largest size under "
        "MEMORY_LIMIT): valid, and it must return within the time budget",
    ),
    (
        r"reslib\..*\.forward",
        r".*",
        r"tensor (nan|inf)",
        "forward never reads values (no GPU sync, reslib.guard): NaN and inf propagate as in torch.nn",
    ),
    (
        r"reslib\.(blocks\.\w+|densenet\.\w+|hourglass\.\w+|preact\.\w+|resnet\.ResNet|normfree\.\w+"
        r"|batchnorm\.BatchNorm2d)\.forward",
        r"x",
        r"tensor last\+1",
        "a wider image: convolutions and pooling take any width",
    ),
    (
        r"reslib\.blocks\.PadShortcut\.forward",
        r"x",
        r"tensor float16",
        "no weights: it subsamples and pads zeros in any floating dtype",
    ),
    (
        r"reslib\.(attention\.\w+|transformer\.\w+)\.forward",
        r"x|idx",
        r"tensor last\+1",
        "a longer sequence (tokens up to block_size): attention takes any length",
    ),
]


def shows_nonfinite(value: object, depth: int = 0) -> bool:
    """Whether a NaN or an infinity can be seen in what a call returned (tensors, numbers, records,
    modules' weights, a figure's data): NaN in, NaN out is honest; NaN in, a finite number out is not."""
    if depth > 4:
        return False
    if isinstance(value, torch.Tensor):
        return (
            value.device.type != "meta"
            and (value.is_floating_point() or value.is_complex())
            and not bool(torch.isfinite(value).all())
        )
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc" and not bool(np.isfinite(value).all())
    if isinstance(value, nn.Module):
        return any(shows_nonfinite(t, depth + 1) for t in (*value.parameters(), *value.buffers()))
    if all(hasattr(value, a) for a in ("to_plotly_json", "data", "layout")):  # a plotly figure
        return any(
            shows_nonfinite(np.asarray(getattr(trace, k), dtype=float), depth + 1)
            for trace in value.data
            for k in ("x", "y", "z")
            if getattr(trace, k, None) is not None and _numeric(getattr(trace, k))
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return any(shows_nonfinite(v, depth + 1) for v in value[:1000])
    return False


def _numeric(values: object) -> bool:
    try:
        np.asarray(values, dtype=float)
        return True
    except (TypeError, ValueError):
        return False


def valid_edge(key: str, argument: str, label: str) -> bool:
    return any(
        re.fullmatch(c, key) and re.fullmatch(a, argument) and re.fullmatch(p, label)
        for c, a, p, _ in VALID_EDGES
    )


# The validators of reslib.validate check *another* argument: with a bound moved, the right error is
# about the value checked, and it names that argument (`name`), not the bound.
VALIDATORS = {f"reslib.validate.require_{k}" for k in ("int", "float", "bool", "choice", "memory", "tensor")}
VALIDATORS.add("reslib.validate.require_device")

# A MemoryError, or what PyTorch raises when the address-space cap refuses an allocation.
CRASH = re.compile(r"can't allocate memory|Cannot allocate memory|out of memory|bad_alloc|std::length_error")


class Hang(Exception):
    """Raised by the wall-clock alarm: one call ran past HANG_LIMIT seconds without using the CPU budget."""


class Slow(Exception):
    """Raised by the CPU-time alarm: one call used more than its CPU budget."""


def _hang(signum, frame):
    raise Hang


def _slow(signum, frame):
    raise Slow


def timed(call: Callable[[], object], budget: float = CPU_BUDGET, wall: float = HANG_LIMIT) -> tuple:
    """Run `call()` muted; return (result, exception or None, CPU seconds).

    The budget is CPU time (the process's, on one thread), so a loaded machine does not make a
    call slow; the wall-clock alarm only stops a call that waits without computing.
    """
    handlers = signal.signal(signal.SIGPROF, _slow), signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_PROF, budget)
    signal.setitimer(signal.ITIMER_REAL, wall)
    torch.manual_seed(0)  # the same draws every run (RandomSkip, stochastic depth): no flaky outcome
    start = time.process_time()
    result, error = None, None
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = call()
    except (Exception, MemoryError) as exc:  # sorting every failure is the point
        error = exc
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, handlers[0])
        signal.signal(signal.SIGALRM, handlers[1])
        if torch.get_num_threads() != 1:  # rl.runtime.num_threads(n) acts when called: undo it
            torch.set_num_threads(1)
    return result, error, time.process_time() - start


def classify(
    error: BaseException | None, cpu: float, names: list, kind: str, budget: float = CPU_BUDGET
) -> tuple[str, str]:
    """(outcome, message) of one call that was given a bad value (or an edge one, kind 'edge')."""
    if isinstance(error, Slow) or (error is None and cpu > budget):
        return "slow", f"used {cpu:.1f} s of CPU, past the budget of {budget:g} s"
    if isinstance(error, Hang):
        return "hang", f"no result within {HANG_LIMIT:g} s of wall time ({cpu:.1f} s of CPU)"
    if isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and CRASH.search(str(error))):
        return "crash", f"{type(error).__name__}: {error}"[:300]
    if isinstance(error, (TypeError, ValueError)):
        message = f"{type(error).__name__}: {error}"
        wanted = TypeError if kind == "type" else ValueError if kind == "nan" else (TypeError, ValueError)
        named = any(isinstance(n, str) and re.search(rf"\b{re.escape(n)}\b", str(error)) for n in names)
        if named and _raised_in_reslib(error) and isinstance(error, wanted):
            return "clear", message
        return "unclear", message + f" @ {traceback.extract_tb(error.__traceback__)[-1].filename}"
    if error is not None:
        return "unclear", f"{type(error).__name__}: {error}"[:300]
    return ("accepted" if kind == "edge" else "silent"), "returned"


def outcome(
    target: Callable, kwargs: dict, name: str, kind: str, budget: float = CPU_BUDGET
) -> tuple[str, str]:
    """Call `target(**kwargs)` once, its printing and warnings muted; return (outcome, message)."""
    key = f"{target.__module__}.{target.__name__}"
    names = [name, kwargs.get("name")] if key in VALIDATORS else [name]
    _, error, cpu = timed(lambda: target(**kwargs), budget)
    return classify(error, cpu, names, kind, budget)


# --- sizes at the bound ---------------------------------------------------------------------------

RANGE = re.compile(r"must be an int in \[(-?[\d,]+), ([\d,]+)\]")
SIZE_LIMIT = re.compile(r"would (allocate|hold) .* past the limit")


class _Under(Exception):
    """A dry run got past the size checks for the argument searched: the value is inside the bound."""


@contextlib.contextmanager
def _dry(argument: str):
    """Stop a call at its first size check that names `argument` and passes, or at its first module.

    A refused size raises its ValueError as usual, so `bound` can bisect without building anything.
    """
    original, module_init = rl.validate.require_memory, nn.Module.__init__

    def require_memory(name, value, nbytes, limit=rl.validate.MEMORY_LIMIT):
        original(name, value, nbytes, limit)
        if name == argument or (isinstance(value, dict) and argument in value):
            raise _Under
        return nbytes

    def init(self, *args, **kwargs):
        raise _Under

    patched = [m for m in list(sys.modules.values()) if getattr(m, "require_memory", None) is original]
    try:
        for m in patched:
            m.require_memory = require_memory
        nn.Module.__init__ = init
        yield
    finally:
        nn.Module.__init__ = module_init
        for m in patched:
            m.require_memory = original


def bound(target: Callable, kwargs: dict, argument: str, message: str) -> int | None:
    """The largest value of an int `argument` that its bound accepts, read from the refusal of 10**12.

    A range ("must be an int in [1, 1,000]") gives it directly; a size limit ("would allocate about
    ... past the limit") by bisection on dry runs (`_dry`: no allocation, milliseconds each).
    """
    found = RANGE.search(message)
    if found:
        return int(found.group(2).replace(",", ""))
    if not SIZE_LIMIT.search(message) or not isinstance(kwargs.get(argument), int):
        return None

    def inside(value: int) -> bool | None:
        with _dry(argument):
            _, error, _ = timed(lambda: target(**{**kwargs, argument: value}), budget=1.0, wall=5.0)
        if error is None or isinstance(error, _Under):
            return True
        if isinstance(error, ValueError) and SIZE_LIMIT.search(str(error)):
            return False
        return None  # refused for another reason: no size bound to find here

    low, high = kwargs[argument], HUGE
    if inside(low) is not True or inside(high) is not False:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        verdict = inside(middle)
        if verdict is None:
            return None
        low, high = (middle, high) if verdict else (low, middle)
    return low


def bound_probes(target: Callable, kwargs: dict, argument: str, message: str) -> list:
    """(label, value, kind) at the bound (the largest value accepted) and just past it.

    At the bound the call must return within the budget (or be refused clearly by another check);
    just past it, the refusal must be clear. The value just under the bound costs what the bound
    costs and shows nothing more, so it is not run: the run stays within its minute.
    """
    top = bound(target, kwargs, argument, message)
    if top is None or top >= HUGE:
        return []
    return [(f"bound at {top}", top, "edge"), (f"bound past {top + 1}", top + 1, "edge")]


# --- forward of every module -------------------------------------------------------------------


def forward_input(module: nn.Module, key: str) -> torch.Tensor | None:
    """A small valid input for `module`: from `FORWARD_INPUTS`, or the first candidate that runs."""
    if key in FORWARD_INPUTS:
        return FORWARD_INPUTS[key] and FORWARD_INPUTS[key](module)
    weight = next((p for p in module.parameters() if p.ndim >= 1), None)
    if weight is None:
        return None
    sizes = [weight.shape[-1], weight.shape[1] if weight.ndim >= 2 else weight.shape[0], weight.shape[0]]
    shapes = [s for c in sizes for s in ((2, c), (2, c, 8, 8), (2, 4, c), (2, c, 16), (2, c, 32, 32))]
    for shape in dict.fromkeys(shapes):
        x = _T(*shape)
        _, error, _ = timed(functools.partial(module, x), budget=2.0)
        if error is None:
            return x
    return None


def forward_probes(module: nn.Module, x: torch.Tensor) -> list:
    return [(f"type {v!r:.20}", v, "type") for v in (None, "zz", [1.5])] + tensor_probes(x)


# --- records -------------------------------------------------------------------------------------


def is_record(obj: object) -> bool:
    return inspect.isclass(obj) and (
        dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields"))
    )


def collect_records(value: object, into: dict, depth: int = 2) -> None:
    """Remember the first instance of each record class found in `value` (a call's result)."""
    if depth < 0:
        return
    cls = type(value)
    if is_record(cls) and cls.__module__.startswith("reslib"):
        into.setdefault(f"{cls.__module__}.{cls.__name__}", value)
        items = (
            [getattr(value, f.name) for f in dataclasses.fields(value)]
            if dataclasses.is_dataclass(value)
            else list(value)
        )
    elif isinstance(value, (list, tuple)):
        items = list(value)[:4]
    elif isinstance(value, dict):
        items = list(value.values())[:4]
    else:
        return
    for item in items:
        collect_records(item, into, depth - 1)


def _fields(record: object) -> list[str]:
    return (
        [f.name for f in dataclasses.fields(record)]
        if dataclasses.is_dataclass(record)
        else list(record._fields)
    )


def _sized(value: object) -> int | None:
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        return None
    try:
        return len(value) if getattr(value, "ndim", 1) else None
    except TypeError:
        return None


def record_probes(record: object, field: str, hint: object) -> list:
    """(label, bad value, kind) for one field of a valid record."""
    value = getattr(record, field)
    found = [(f"type {v!r:.20}", v, "type") for v in (None, "zz", 3) if not matches(v, hint)][:2]
    if isinstance(value, float) and math.isfinite(value):
        found.append(("nan", math.nan, "nan"))
    elif isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
        found.append(("tensor nan", _one_element(value, math.nan), "edge"))
    n = _sized(value)
    others = [f for f in _fields(record) if f != field and _sized(getattr(record, f)) == n]
    if n is not None and n >= 2 and others:
        found.append((f"length {n - 1} (as {others[0]}: {n})", value[:-1], "edge"))
    return found


def _rebuild(record: object, field: str, value: object) -> object:
    if dataclasses.is_dataclass(record):
        return dataclasses.replace(record, **{field: value})
    return record._replace(**{field: value})


# --- explorers -----------------------------------------------------------------------------------


def control_probes(control: object) -> list:
    """(label, bad value, kind) for one control of an explorer: None, a string, NaN, past its range."""
    value = control.value
    found = [("type None", None, "type")]
    if not isinstance(value, str):
        found.append(("type 'zz'", "zz", "type"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        found.append(("nan", math.nan, "edge"))
    options = [v for v in getattr(control, "options", ()) if isinstance(v, (int, float))]
    if hasattr(control, "max") and isinstance(value, (int, float)) and not isinstance(value, bool):
        top = control.max
        past = getattr(control, "base", 10) ** (top + 1) if "Log" in type(control).__name__ else top + 1
        found.append((f"past range {past:g}", type(value)(past), "edge"))
    elif options:
        found.append((f"not an option {max(options) + 1:g}", max(options) + 1, "edge"))
    return found


def _explorer_error(explorer: object, error: BaseException | None) -> BaseException | None:
    return error if error is not None else getattr(explorer, "error", None)


# --- the run -------------------------------------------------------------------------------------


class Run:
    """One worker's share of the probes; each message goes to `emit` at once (the parent keeps them).

    Every step that could kill the process (a probe, a valid call, a bound's search) is announced
    first ("start") and closed after ("end"), so the parent knows what to blame and skip.
    """

    def __init__(self, emit: Callable[[dict], None], done: set[str]):
        self.emit, self.done = emit, done
        self.records: dict[str, object] = {}
        self.missing: list[str] = []
        self.failing: list[str] = []
        self.skipped: list[str] = []
        self.missing_records: list[str] = []

    def step(self, ident: str, call: Callable[[], object], setup: bool = False, **limits) -> tuple:
        """Run one announced step: (result, error, CPU seconds), or a `Skipped` error if done before.

        A setup step (a valid call, a search) is run again by a new worker, unless it killed the last.
        """
        if ident in self.done:
            return None, Skipped(ident), 0.0
        self.emit({"start": ident})
        found = timed(call, **limits)
        self.emit({"end": ident, "setup": setup})
        return found

    def row(self, row: dict, found: str, message: str, cpu: float) -> None:
        self.emit({"row": {**row, "outcome": found, "message": message, "cpu_s": round(cpu, 3)}})

    def probe(self, row: dict, call: Callable[[], object], names: list, kind: str) -> tuple:
        """One probe: run it, sort what happened, emit its row; return (result, error)."""
        ident = f"{row['callable']}|{row['argument']}|{row['probe']}"
        budget = BOUND_BUDGET if row.get("kind") == "bound" else CPU_BUDGET
        result, error, cpu = self.step(ident, call, budget=budget)
        if isinstance(error, Skipped):
            return result, error
        found, message = classify(error, cpu, names, kind, budget)
        if (
            found == "accepted"
            and re.match(r"(tensor )?(nan|inf)\b", row["probe"])
            and shows_nonfinite(result)
        ):
            message = "returned NaN or infinity for NaN or infinity in: visible, not a plausible number"
        elif found == "accepted" and not valid_edge(row["callable"], row["argument"], row["probe"]):
            found, message = "silent", "returned: an edge value not in VALID_EDGES"
        self.row(row, found, message, cpu)
        return result, error

    def valid(self, key: str, call: Callable[[], object]) -> tuple[bool, object]:
        # the valid call first, with time to spare: an alarm inside a first, lazy import (torch's
        # flop counter imports torch._dynamo) would leave that module half-imported for every later call
        result, error, _ = self.step(f"{key}|(valid call)|", call, True, budget=60.0, wall=60.0)
        if isinstance(error, Skipped):
            self.failing.append(f"{key}: the valid call killed the process")
            return False, None
        if error is not None:
            self.failing.append(f"{key}: {type(error).__name__}: {error}"[:300])
            return False, None
        collect_records(result, self.records)
        return True, result

    def arguments(self, key: str, target: Callable) -> None:
        if key in EXAMPLES and EXAMPLES[key] is None:
            self.skipped.append(key)
            return
        try:
            kwargs = valid_call(target, key)
        except Exception as exc:  # the example itself is broken
            self.failing.append(f"{key}: building the example raised {type(exc).__name__}: {exc}")
            return
        if kwargs is None:
            self.missing.append(key)
            return
        ok, result = self.valid(key, functools.partial(target, **kwargs))
        if not ok:
            return
        if isinstance(result, nn.Module) and type(result) is target:
            self.forward(f"{key}.forward", result)
        fn = target.__init__ if inspect.isclass(target) else target
        hints = typing.get_type_hints(fn)
        for p in inspect.signature(fn).parameters.values():
            if p.name not in hints or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            valid = kwargs.get(p.name, p.default)
            for label, value, kind in probes(hints[p.name], valid):
                call = {**(valid_call(target, key) or {}), p.name: value}
                names = [p.name, call.get("name")] if key in VALIDATORS else [p.name]
                row = dict(callable=key, argument=p.name, probe=label, kind="argument")
                _, error = self.probe(row, functools.partial(target, **call), names, kind)
                # sizes at the bound; not a module class's weight limit (`sized`, "would hold"):
                # building it at the limit is initialising 1 GiB of weights, about 1 s for any class
                # (some 40 of them, half the run's time); a function that builds and uses one is probed
                held = inspect.isclass(target) and "would hold" in str(error)
                if label == f"edge {HUGE}" and isinstance(error, ValueError) and not held:
                    self.bounds(key, target, p.name, str(error))

    def bounds(self, key: str, target: Callable, argument: str, message: str) -> None:
        search = functools.partial(bound_probes, target, valid_call(target, key) or {}, argument, message)
        found, error, _ = self.step(f"{key}|{argument}|(bound search)", search, True, budget=60.0, wall=60.0)
        if error is not None:
            if not isinstance(error, Skipped):
                self.failing.append(f"{key}: searching the bound of {argument} raised {error!r}"[:300])
            return
        for label, value, kind in found:
            call = {**(valid_call(target, key) or {}), argument: value}
            row = dict(callable=key, argument=argument, probe=label, kind="bound")
            # at the bound, the value is one the callable states valid: a refusal by another check
            # (a budget, a combined size) is clear if it names any argument of the call
            names = [argument, call.get("name"), *(call if label.startswith("bound at") else ())]
            self.probe(row, functools.partial(target, **call), names, kind)

    def forward(self, key: str, module: nn.Module) -> None:
        if FORWARD_INPUTS.get(key.removesuffix(".forward"), ...) is None:
            self.skipped.append(key)
            return
        search = functools.partial(forward_input, module, key.removesuffix(".forward"))
        found, error, _ = self.step(f"{key}|(valid input)|", search, True, budget=60.0)
        if found is None:
            if not isinstance(error, Skipped):
                self.missing.append(f"{key} (no input found: add one to FORWARD_INPUTS)")
            return
        argument = list(inspect.signature(module.forward).parameters)[0]
        for label, value, kind in forward_probes(module, found):
            row = dict(callable=key, argument=argument, probe=label, kind="forward")
            self.probe(row, functools.partial(module, value), [argument], kind)

    def record(self, key: str, worker: int) -> None:
        record = self.records.get(key)
        if record is None and key in RECORDS:
            if RECORDS[key] is None:
                self.skipped.append(key)
                return
            if worker != 0:
                return
            ok, record = self.valid(key, RECORDS[key])
            if not ok:
                return
        if record is None:
            self.missing_records.append(key)
            return
        try:
            hints = typing.get_type_hints(type(record))
        except Exception:  # a hint that names what the module imports only for type checkers
            hints = {}
        for field in _fields(record):
            for label, value, kind in record_probes(record, field, hints.get(field, object)):
                row = dict(callable=key, argument=field, probe=label, kind="record")
                built, error = self.probe(
                    row, functools.partial(_rebuild, record, field, value), [field], kind
                )
                if error is None:
                    try:
                        repr(built)
                    except Exception as exc:
                        message = f"it was built, and its repr raised {type(exc).__name__}: {exc}"[:300]
                        self.row({**row, "probe": f"{label}, repr"}, "unclear", message, 0.0)

    def explorer(self, name: str) -> None:
        entry = rl.viz.EXPLORERS[name]
        key = f"{entry.factory.__module__}.{name}.update"
        ok, explorer = self.valid(key, entry.build)
        if not ok:
            return
        for control, widget in explorer.controls.items():
            good = widget.value
            for label, value, kind in control_probes(widget):
                row = dict(callable=key, argument=control, probe=label, kind="explorer")
                update = functools.partial(explorer.update, **{control: value})
                _, error, cpu = self.step(f"{key}|{control}|{label}", update)
                if isinstance(error, Skipped):
                    continue
                # the error, raised or (as a slider move's would be) shown in the status line
                shown = error if error is not None else explorer.error
                found, message = classify(shown, cpu, [control], kind)
                if found in ("accepted", "silent"):
                    found = "accepted" if valid_edge(key, control, label) else "silent"
                    message = f"returned, and drew; {control} is now {widget.value!r}"
                _, error, _ = timed(functools.partial(explorer.update, **{control: good}))
                if error is not None or explorer.error is not None or widget.value != good:
                    message = f"after {label}, update({control}={good!r}) left {error or explorer.error!r}"
                    found = "stuck"
                self.row(row, found, message[:300], cpu)

    def all(self, worker: int, workers: int) -> dict:
        """This worker's share of the callables (each with its forward) and explorers, claimed one at a
        time (`_claims`), then the records that its own valid calls returned (every worker probes
        those it has; the parent keeps each row once)."""
        keep = re.compile(os.environ.get("RESLIB_FUZZ_ONLY", ".*"))  # a maintainer's partial run
        tasks = [functools.partial(self.arguments, k, t) for k, t in discover().items() if keep.search(k)]
        explorers = [n for n in sorted(rl.viz.EXPLORERS) if keep.search(f"reslib.viz.{n}")]
        tasks += [functools.partial(self.explorer, name) for name in explorers]
        for i in _claims(worker, workers, len(tasks)):
            tasks[i]()
        for key in sorted(k for k in records() if keep.search(k)):
            self.record(key, worker)
        return dict(
            no_example=self.missing,
            valid_call_fails=self.failing,
            skipped=self.skipped,
            missing_records=self.missing_records,
        )


class Skipped(Exception):
    """A step an earlier worker already ran (or that killed it): not run again."""


def records() -> dict[str, type]:
    """'module.name' -> every public record class (frozen dataclass or named tuple) of reslib."""
    found = {}
    for _, name, obj in _public():
        if is_record(obj) and not issubclass(obj, BaseException):
            found.setdefault(f"{obj.__module__}.{name}", obj)
    return found


FINDINGS = ("silent", "unclear", "hang", "slow", "crash", "stuck")
OUTCOMES = ("clear", "accepted", *FINDINGS)
WORKERS = 2  # the machine's cores: each worker claims the next task, and runs it on one thread
_SHARED = None  # under run(): (next task, the task each worker is in, a lock), shared by the forked workers


def _claims(worker: int, workers: int, count: int) -> Iterator[int]:
    """The tasks `worker` runs: the next unclaimed one each time, so the workers end together (a fixed
    share, every `workers`-th task, left one worker 1.3x the other's CPU time), and first the task a
    killed predecessor of it was in (its steps done are skipped). Outside `run`: the fixed share."""
    if _SHARED is None:
        yield from range(worker, count, workers)
        return
    following, current, lock = _SHARED
    if 0 <= current[worker] < count:
        yield current[worker]
    while True:
        with lock:
            i, following.value = following.value, following.value + 1
        current[worker] = min(i, count)
        if i >= count:
            return
        yield i


def _worker(write_fd: int, done: set[str], worker: int, workers: int) -> None:
    """A forked child: run its share of the probes, one JSON line per message, then exit."""
    out = os.fdopen(write_fd, "w", buffering=1)

    def emit(message: dict) -> None:
        out.write(json.dumps(message) + "\n")

    torch.set_num_threads(1)
    report = Run(emit, done).all(worker, workers)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emit({"done": dict(report, cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_gib=usage.ru_maxrss / 2**20)})
    out.flush()
    os._exit(0)


def _start(done: set[str], worker: int, workers: int) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            _worker(write_fd, done, worker, workers)
        finally:
            os._exit(70)
    os.close(write_fd)
    return pid, read_fd


def run(workers: int = WORKERS) -> dict:
    """Every probe, in `workers` forked children; a child that a probe kills is recorded as a
    `crash`, and a new one goes on (skipping the steps done, and the one that killed)."""
    global _SHARED
    _SHARED = (
        multiprocessing.RawValue("q", 0),
        multiprocessing.RawArray("q", [-1] * workers),
        multiprocessing.Lock(),
    )
    try:
        return _run(workers)
    finally:
        _SHARED = None


def _run(workers: int) -> dict:
    torch.set_num_threads(1)
    rows: dict[str, dict] = {}
    done: set[str] = set()
    reports: list[dict] = []
    selector = selectors.DefaultSelector()
    cpu = [0.0] * workers  # each worker's CPU seconds, over its restarts: its wall time on an idle core

    def start(worker: int) -> None:
        pid, fd = _start(done, worker, workers)
        selector.register(fd, selectors.EVENT_READ, dict(worker=worker, pid=pid, buffer=b"", started=None))

    for worker in range(workers):
        start(worker)
    while selector.get_map():
        for key, _ in selector.select():
            state, chunk = key.data, os.read(key.fd, 1 << 16)
            state["buffer"] += chunk
            *lines, state["buffer"] = state["buffer"].split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "start" in message:
                    state["started"] = message["start"]
                elif "end" in message:
                    if not message["setup"]:
                        done.add(message["end"])
                    state["started"] = None
                elif "row" in message:
                    r = message["row"]
                    rows.setdefault(f"{r['callable']}|{r['argument']}|{r['probe']}", r)
                else:
                    reports.append(message["done"])
            if chunk:
                continue
            selector.unregister(key.fd)
            os.close(key.fd)
            _, status, usage = os.wait4(state["pid"], 0)
            cpu[state["worker"]] += usage.ru_utime + usage.ru_stime
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                continue
            how = (
                f"signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit {os.WEXITSTATUS(status)}"
            )
            if state["started"] is None:  # died between steps: nothing to blame, nothing to resume
                reports.append(dict(valid_call_fails=[f"fuzz worker {state['worker']} died ({how})"]))
                continue
            ident = state["started"]
            name, argument, probe = ident.split("|", 2)
            kind = "record" if name in records() else "explorer" if name.endswith(".update") else "argument"
            rows[ident] = dict(
                callable=name,
                argument=argument,
                probe=probe,
                kind="forward" if name.endswith(".forward") else "bound" if "bound" in probe else kind,
                outcome="crash",
                message=f"the process died ({how})",
                cpu_s=None,
            )
            done.add(ident)
            start(state["worker"])
    merged = {
        k: sorted({x for r in reports for x in r.get(k, [])})
        for k in ("no_example", "valid_call_fails", "skipped")
    }
    everywhere = set.intersection(*(set(r.get("missing_records", [])) for r in reports)) if reports else set()
    merged["no_example"] += [
        f"{k} (no valid call returned one: add one to RECORDS)" for k in sorted(everywhere)
    ]
    merged["worker_cpu_s"] = [round(c, 1) for c in cpu]
    merged["worker_peak_rss_gib"] = max((r.get("peak_rss_gib", 0.0) for r in reports), default=0.0)
    return dict(rows=list(rows.values()), **merged)


def summary(report: dict) -> str:
    rows = report["rows"]
    counts = collections.Counter(r["outcome"] for r in rows)
    total, bad = len(rows), len(rows) - counts["accepted"]
    callables = len({r["callable"] for r in rows})
    lines = [
        f"fuzz: {total} probes of {callables} public callables, forward()s, records and explorer controls",
        f"  {'':9s} {'count':>5s}  {'of all':>7s}  {'of bad':>7s}   (bad: all but the accepted valid edges)",
    ]
    for k in OUTCOMES:
        share = "" if k == "accepted" else f"{100 * counts[k] / max(bad, 1):6.1f} %"
        lines.append(f"  {k:9s} {counts[k]:5d}  {100 * counts[k] / max(total, 1):6.1f} %  {share:>7s}")
    kinds = collections.Counter(r.get("kind", "argument") for r in rows)
    lines.append("  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--memory", type=float, default=2.0, help="GiB of address space past the start")
    parser.add_argument("--only", help="probe only callables whose name matches this regex (a partial run)")
    args = parser.parse_args()
    if args.only:
        os.environ["RESLIB_FUZZ_ONLY"] = args.only
    start = time.perf_counter()
    import psutil

    limit = psutil.Process().memory_info().vms + int(args.memory * 2**30)
    try:  # run it on the CPU (CUDA_VISIBLE_DEVICES=""): a GPU runtime reserves far more address space
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    except (ValueError, OSError):  # macOS does not enforce RLIMIT_AS
        pass
    report = run()
    report["seconds"] = time.perf_counter() - start
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    report["peak_rss_gib"] = peak / 2**20
    report["cpu_budget_s"] = CPU_BUDGET
    print(summary(report))
    print(f"  {report['seconds']:.1f} s, peak RSS {report['peak_rss_gib']:.2f} GiB")
    for key in ("no_example", "valid_call_fails"):
        for item in report[key]:
            print(f"{key}: {item}")
    findings = [r for r in report["rows"] if r["outcome"] in FINDINGS]
    for r in findings:
        print(f"{r['outcome']:8s} {r['callable']}({r['argument']}={r['probe']}): {r['message'][:200]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    # A finding fails the run: scripts and CI see it without reading the table.
    sys.exit(1 if findings or report["no_example"] or report["valid_call_fails"] else 0)


if __name__ == "__main__":
    main()
