"""Feed every public callable of `reslib` bad arguments, one at a time, and sort what happens.

    python -m tools.fuzz [--json FILE]

Discovery is automatic: every function and class named in any `__all__` of `reslib` and its
subpackages (exceptions and result records, i.e. frozen dataclasses and named tuples, excepted).
Each gets one *valid* call: its defaults, plus a value for each required argument from `VALID`
(by argument name) or `EXAMPLES` (by callable). A new function whose valid call cannot be built
is listed as `no example`, and the test fails until one is added here.

Then each annotated argument is replaced by bad values derived from its annotation:
- wrong types: a string, a float, a bool, None, an int, a module instance, a list (whichever do
  not match the annotation). Expected: `TypeError` naming the argument.
- NaN for a float: never valid. Expected: `ValueError` naming the argument.
- edge values: -1, 0 and 10**12 for an int, -1 and inf for a float, "bogus" for a string. An error
  must be a clear one, and 10**12 must neither hang nor allocate past `reslib.validate.MEMORY_LIMIT`.
  Some are valid for some arguments (seed 0, a title 'bogus'): returning is fine where
  `VALID_EDGES` says so, with the reason; anywhere else it is a silent accept.

Outcomes: `clear` (TypeError/ValueError raised in reslib, naming the argument), `accepted` (an
edge value in `VALID_EDGES` returned), `silent` (anything else returned), `unclear` (any other error, or one
that does not name the argument), `hang` (past `TIME_LIMIT` seconds). The run is its own process,
with an address-space limit, so a runaway allocation fails instead of taking the machine down.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import importlib
import inspect
import io
import json
import math
import os
import pkgutil
import re
import resource
import signal
import sys
import time
import traceback
import types
import typing
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

# Stored predictions go to a throw-away file: the fuzz calls rl.predictions.forget().
os.environ["RESLIB_PREDICTIONS"] = os.path.join(__import__("tempfile").mkdtemp(), "predictions.json")

import reslib as rl
from reslib.validate import matches

TIME_LIMIT = 3.0  # seconds per call
HUGE = 10**12
PACKAGE = Path(rl.__file__).parent


class Hang(Exception):
    """Raised by the alarm when one call runs past TIME_LIMIT."""


def discover() -> dict[str, object]:
    """'module.name' -> every public function and class, each once (at its first `__all__`)."""
    found: dict[str, object] = {}
    seen: set[int] = set()
    packages = pkgutil.walk_packages(rl.__path__, "reslib.")
    names = ["reslib", *(m.name for m in packages if not m.name.endswith(".__main__"))]  # no CLIs
    for module_name in sorted(names):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isclass(obj) and (
                issubclass(obj, (BaseException, tuple)) or dataclasses.is_dataclass(obj)
            ):
                continue  # exceptions and result records are made by reslib, not by callers
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
    "reslib.stacking.GroupedLinear": lambda: dict(weight=_T(2, 3, 4), bias=_T(2, 3)),
    "reslib.stacking.GroupedBatchNorm": lambda: dict(
        weight=_T(2, 3),
        bias=_T(2, 3),
        running_mean=_T(2, 3),
        running_var=torch.ones(2, 3),
        steps=torch.zeros(2, dtype=torch.long),
    ),
    "reslib.stacking.groupable": lambda: dict(model=nn.Linear(4, 2)),
    "reslib.stacking.grouped": lambda: dict(models=[nn.Linear(4, 2), nn.Linear(4, 2)]),
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
    "reslib.guard.require_work": lambda: dict(given={"steps": 10}, flops=1e6, operations=10.0),
    # the guard on the first line of every forward: its other arguments are constants in reslib's
    # own code, and `x`, the one a learner sets, is probed through the modules' forward
    "reslib.guard.require_input": None,
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
    "reslib.viz.resnet.shortcut_figure": lambda: dict(results=_shortcut()),
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


def _tensor_probes(valid: object) -> list[tuple[str, object, str]]:
    """A valid tensor changed one way: another dtype, one dimension fewer, an empty batch."""
    if not isinstance(valid, torch.Tensor) or valid.ndim == 0:
        return []
    other = valid.long() if valid.is_floating_point() else valid.float()
    return [
        ("tensor dtype", other, "edge"),
        ("tensor ndim-1", valid[0], "edge"),
        ("tensor empty", valid[:0], "edge"),
    ]


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
    return found + _tensor_probes(valid)


def _alarm(signum, frame):
    raise Hang


def _raised_in_reslib(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


# Edge values that are valid inputs, reviewed by hand: (callable, argument, probes) as regular
# expressions on 'reslib.module.name', the argument and the probe's label, with the reason. Any
# other edge value that returns counts as `silent`, so a new function's edge cases get a look.
VALID_EDGES = [
    (r"reslib\.data\.require_clean", r"classes", r"edge 1000000000000", "more classes than the labels use"),
    (r"reslib\.runtime\.(step_flops|device_for)", r"example", r"tensor ndim-1", "one unbatched input runs"),
    (r".*", r"seed", r"edge (0|1000000000000)", "any non-negative integer is a seed"),
    (
        r".*",
        r"\w*name|title|yaxis|xlabel|note|hint|slow_hint|fix|where|says|question|unit|what",
        r"edge 'bogus'",
        "free text",
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
    (r"reslib\.blocks\.PadShortcut", r"out_channels", r"edge 1000000000000", "zeros are added in forward"),
    (r"reslib\.mlp\.width_for_budget", r"budget", r"edge 1000000000000", "closed form"),
    (
        r"reslib\.viz\.transformer\.lens_figure",
        r"block",
        r"edge 0",
        "0 is the embedding",
    ),
    (r"reslib\.sequences\.train_sequence_models", r"warmup", r"edge 0", "no warm-up"),
    (
        r"reslib\.(layers\.residual_add|scenes\.gaussian_heatmaps|shattering\.autocorrelation|unet\.center_crop"
        r"|viz\.explorer\.image_(grid|trace)|viz\.unet\.segmentation_figure|viz\.hourglass\.\w+)",
        r".*",
        r"tensor dtype",
        "integers add, crop, correlate and draw as well as floats",
    ),
    (
        r"reslib\.(costs\.saved_tensor_bytes|paths\.unravel|unet\.center_crop)",
        r"x",
        r"tensor (ndim-1|empty)",
        "one example without a batch axis (a Linear takes it); center_crop crops any (..., H, W)",
    ),
]


def valid_edge(key: str, argument: str, label: str) -> bool:
    return any(
        re.fullmatch(c, key) and re.fullmatch(a, argument) and re.fullmatch(p, label)
        for c, a, p, _ in VALID_EDGES
    )


# The validators of reslib.validate check *another* argument: with a bound moved, the right error is
# about the value checked, and it names that argument (`name`), not the bound.
VALIDATORS = {f"reslib.validate.require_{k}" for k in ("int", "float", "bool", "choice", "memory", "tensor")}
VALIDATORS.add("reslib.validate.require_device")


def outcome(
    target: Callable, kwargs: dict, name: str, kind: str, limit: float = TIME_LIMIT
) -> tuple[str, str]:
    """Call once, its printing and warnings muted; return (outcome, message)."""
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                target(**kwargs)
    except Hang:
        return "hang", f"no result within {TIME_LIMIT:g} s"
    except (TypeError, ValueError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        wanted = TypeError if kind == "type" else ValueError if kind == "nan" else (TypeError, ValueError)
        key = f"{target.__module__}.{target.__name__}"
        names = [name, kwargs["name"]] if key in VALIDATORS else [name]
        named = any(isinstance(n, str) and re.search(rf"\b{re.escape(n)}\b", str(exc)) for n in names)
        if named and _raised_in_reslib(exc) and isinstance(exc, wanted):
            return "clear", message
        return "unclear", message + f" @ {traceback.extract_tb(exc.__traceback__)[-1].filename}"
    except Exception as exc:  # sorting every failure is the point
        return "unclear", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return ("accepted" if kind == "edge" else "silent"), "returned"


def run() -> dict:
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)
    rows, missing, failing, skipped = [], [], [], []
    for key, target in discover().items():
        if key in EXAMPLES and EXAMPLES[key] is None:
            skipped.append(key)
            continue
        try:
            kwargs = valid_call(target, key)
        except Exception as exc:  # the example itself is broken
            failing.append(f"{key}: building the example raised {type(exc).__name__}: {exc}")
            continue
        if kwargs is None:
            missing.append(key)
            continue
        # the valid call first, with time to spare: an alarm inside a first, lazy import (torch's
        # flop counter imports torch._dynamo) would leave that module half-imported for every later call
        kind, message = outcome(target, kwargs, "", "edge", limit=60.0)
        if kind != "accepted":
            failing.append(f"{key}: {message}")
            continue
        fn = target.__init__ if inspect.isclass(target) else target
        hints = typing.get_type_hints(fn)
        for p in inspect.signature(fn).parameters.values():
            if p.name not in hints or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            valid = kwargs.get(p.name, p.default)
            for label, value, kind in probes(hints[p.name], valid):
                call = {**(valid_call(target, key) or {}), p.name: value}
                result, message = outcome(target, call, p.name, kind)
                if result == "accepted" and not valid_edge(key, p.name, label):
                    result, message = "silent", "returned: an edge value not in VALID_EDGES"
                rows.append(dict(callable=key, argument=p.name, probe=label, outcome=result, message=message))
    return dict(rows=rows, no_example=missing, valid_call_fails=failing, skipped=skipped)


def summary(report: dict) -> str:
    counts = collections.Counter(r["outcome"] for r in report["rows"])
    total = len(report["rows"])
    callables = len({r["callable"] for r in report["rows"]})
    lines = [f"fuzz: {total} bad inputs to {callables} public callables"]
    lines += [
        f"  {k:9s} {counts[k]:5d}  ({100 * counts[k] / max(total, 1):.1f} %)"
        for k in ("clear", "accepted", "silent", "unclear", "hang")
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--memory", type=float, default=2.0, help="GiB of address space past the start")
    args = parser.parse_args()
    start = time.perf_counter()
    import psutil

    limit = psutil.Process().memory_info().vms + int(args.memory * 2**30)
    try:  # run it on the CPU (CUDA_VISIBLE_DEVICES=""): a GPU runtime reserves far more address space
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    except (ValueError, OSError):  # macOS does not enforce RLIMIT_AS
        pass
    report = run()
    report["seconds"] = time.perf_counter() - start
    report["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(summary(report))
    print(f"  {report['seconds']:.1f} s, peak RSS {report['peak_rss_gib']:.2f} GiB")
    for key in ("no_example", "valid_call_fails"):
        for item in report[key]:
            print(f"{key}: {item}")
    findings = [r for r in report["rows"] if r["outcome"] in ("silent", "unclear", "hang")]
    for r in findings:
        print(f"{r['outcome']:8s} {r['callable']}({r['argument']}={r['probe']}): {r['message'][:200]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    # A finding fails the run (a crash already does): scripts and CI see it without reading the table.
    sys.exit(1 if findings or report["no_example"] or report["valid_call_fails"] else 0)


if __name__ == "__main__":
    main()
