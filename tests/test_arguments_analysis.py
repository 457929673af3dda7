"""One rule for bad arguments in the analysis modules (see `reslib.core`).

A wrong type (a float `2.0` where a count is expected) raises `TypeError`; a wrong value raises
`ValueError`; the message names the argument. One row per (callable, bad kwargs, error, word).
"""

import pytest
import torch
from torch import nn

import reslib as rl

X = torch.linspace(-1, 1, 8 * 40).reshape(8, 40)
Y = torch.arange(8) % 10


def _net() -> nn.Module:
    return rl.mlp.mlp(3, 8, 4, 2, residual=True)


# valid arguments for each callable; a row replaces one of them with a bad value
BASE = {
    rl.gradients.gradient_flow: lambda: dict(depth=2, activation="relu", x=X, y=Y, width=8),
    rl.shattering.shattering: lambda: dict(depth=2, residual=False, width=8, n_inputs=16),
    rl.shattering.shattering_net: lambda: dict(depth=2, residual=False, width=8),
    rl.shattering.lag1_by_depth: lambda: dict(max_depth=2, residual=True, width=8, n_inputs=16, seeds=(0,)),
    rl.shattering.autocorrelation: lambda: dict(g=torch.arange(5.0).sin(), max_lag=2),
    rl.paths.path_length_distribution: lambda: dict(n_blocks=4),
    rl.paths.effective_paths: lambda: dict(n_blocks=4, magnitude=[1.0] * 5, share=0.9),
    rl.paths.lesion: lambda: dict(model=_net(), drop=[1]),
    rl.paths.reorder: lambda: dict(model=_net(), order=[2, 1, 0]),
    rl.paths.path_gradient_magnitude: lambda: dict(
        model=_net(), x=torch.ones(4, 4), y=torch.zeros(4).long(), lengths=[0, 1], samples=2, seed=0
    ),
    rl.paths.stochastic_depth: lambda: dict(model=_net(), survival=0.5),
    rl.paths.RandomSkip: lambda: dict(block=nn.Identity(), survival=0.5),
    rl.variance.forward_backward_profile: lambda: dict(depth=3, width=8, n_samples=16),
    rl.variance.variance_profile: lambda: dict(depth=3, width=8, n_samples=16),
    rl.batchnorm.running_stats_trace: lambda: dict(batch_size=8, momentum=0.1, steps=5),
    rl.batchnorm.batch_norm_forward: lambda: dict(
        x=torch.ones(4, 3), gamma=torch.ones(3), beta=torch.zeros(3)
    ),
    rl.batchnorm.BatchNorm1d: lambda: dict(num_features=3),
    rl.batchnorm.BatchNorm2d: lambda: dict(num_features=3),
    rl.scenes.segmentation: lambda: dict(n=2, size=8),
    rl.scenes.keypoints: lambda: dict(n=2, size=8),
    rl.scenes.gaussian_heatmaps: lambda: dict(coords=torch.zeros(1, 2, 2), size=8, sigma=1.0),
    rl.scenes.iou: lambda: dict(
        pred=torch.zeros(1, 2, 2).long(), target=torch.zeros(1, 2, 2).long(), num_classes=3
    ),
    rl.data.mnist1d: lambda: dict(num_samples=100, device="cpu"),
    rl.data.cifar10: lambda: dict(root="/nonexistent", device="cpu"),
    rl.runtime.set_seed: lambda: dict(seed=0),
}

T, V = TypeError, ValueError
ROWS = [
    (rl.gradients.gradient_flow, dict(depth=2.0), T, "depth"),
    (rl.gradients.gradient_flow, dict(depth=0), V, "depth"),
    (rl.gradients.gradient_flow, dict(width=8.0), T, "width"),
    (rl.gradients.gradient_flow, dict(activation="gelu"), V, "activation"),
    (rl.gradients.gradient_flow, dict(bins=4.0), T, "bins"),
    (rl.gradients.gradient_flow, dict(bins=0), V, "bins"),
    (rl.gradients.gradient_flow, dict(lr="0.1"), T, "lr"),
    (rl.gradients.gradient_flow, dict(lr=0.0), V, "lr"),
    (rl.gradients.gradient_flow, dict(seed=-1), V, "seed"),
    (rl.shattering.shattering, dict(depth=2.0), T, "depth"),
    (rl.shattering.shattering, dict(depth=0), V, "depth"),
    (rl.shattering.shattering, dict(n_inputs=16.0), T, "n_inputs"),
    (rl.shattering.shattering, dict(n_inputs=1), V, "n_inputs"),
    (rl.shattering.shattering, dict(init="xavier"), V, "init"),
    (rl.shattering.shattering, dict(residual=1), T, "residual"),
    (rl.shattering.shattering_net, dict(width=8.0), T, "width"),
    (rl.shattering.shattering_net, dict(width=0), V, "width"),
    (rl.shattering.shattering_net, dict(batch_norm="yes"), T, "batch_norm"),
    (rl.shattering.shattering_net, dict(seed=-1), V, "seed"),
    (rl.shattering.lag1_by_depth, dict(max_depth=2.0), T, "max_depth"),
    (rl.shattering.lag1_by_depth, dict(max_depth=0), V, "max_depth"),
    (rl.shattering.lag1_by_depth, dict(seeds=()), V, "seeds"),
    (rl.shattering.autocorrelation, dict(max_lag=1.0), T, "max_lag"),
    (rl.shattering.autocorrelation, dict(max_lag=5), V, "max_lag"),
    (rl.paths.path_length_distribution, dict(n_blocks=4.0), T, "n_blocks"),
    (rl.paths.path_length_distribution, dict(n_blocks=-1), V, "n_blocks"),
    (rl.paths.effective_paths, dict(n_blocks=4.0), T, "n_blocks"),
    (rl.paths.effective_paths, dict(share="0.9"), T, "share"),
    (rl.paths.effective_paths, dict(share=1.5), V, "share"),
    (rl.paths.effective_paths, dict(magnitude=[1.0] * 3), V, "magnitude"),
    (rl.paths.lesion, dict(drop=[1.0]), T, "drop"),
    (rl.paths.lesion, dict(drop=[3]), V, "block index"),
    (rl.paths.reorder, dict(order=[0, 0, 1]), V, "permutation"),
    (rl.paths.path_gradient_magnitude, dict(lengths=[1.0]), T, "lengths"),
    (rl.paths.path_gradient_magnitude, dict(lengths=[4]), V, "lengths"),
    (rl.paths.path_gradient_magnitude, dict(samples=2.0), T, "samples"),
    (rl.paths.path_gradient_magnitude, dict(samples=0), V, "samples"),
    (rl.paths.stochastic_depth, dict(survival="half"), T, "survival"),
    (rl.paths.stochastic_depth, dict(survival=0.0), V, "survival"),
    (rl.paths.RandomSkip, dict(survival=None), T, "survival"),
    (rl.paths.RandomSkip, dict(survival=1.5), V, "survival"),
    (rl.variance.forward_backward_profile, dict(depth=3.0), T, "depth"),
    (rl.variance.forward_backward_profile, dict(depth=0), V, "depth"),
    (rl.variance.forward_backward_profile, dict(width=8.0), T, "width"),
    (rl.variance.forward_backward_profile, dict(n_samples=1), V, "n_samples"),
    (rl.variance.forward_backward_profile, dict(residual_scale="1"), T, "residual_scale"),
    (rl.variance.forward_backward_profile, dict(residual_scale=0), V, "residual_scale"),
    (rl.variance.forward_backward_profile, dict(init=True), T, "init"),
    (rl.variance.forward_backward_profile, dict(init="lecun"), V, "init"),
    (rl.variance.forward_backward_profile, dict(batch_norm=1), T, "batch_norm"),
    (rl.variance.forward_backward_profile, dict(seed=-1), V, "seed"),
    (rl.variance.variance_profile, dict(depth=3.0), T, "depth"),
    (rl.variance.variance_profile, dict(quantity="std"), V, "quantity"),
    (rl.batchnorm.running_stats_trace, dict(batch_size=8.0), T, "batch_size"),
    (rl.batchnorm.running_stats_trace, dict(batch_size=1), V, "batch_size"),
    (rl.batchnorm.running_stats_trace, dict(momentum="0.1"), T, "momentum"),
    (rl.batchnorm.running_stats_trace, dict(momentum=0.0), V, "momentum"),
    (rl.batchnorm.running_stats_trace, dict(steps=5.0), T, "steps"),
    (rl.batchnorm.running_stats_trace, dict(steps=0), V, "steps"),
    (rl.batchnorm.batch_norm_forward, dict(x=[[1.0, 2.0, 3.0]]), T, "x"),
    (rl.batchnorm.batch_norm_forward, dict(eps=-1.0), V, "eps"),
    (rl.batchnorm.BatchNorm1d, dict(num_features=3.0), T, "num_features"),
    (rl.batchnorm.BatchNorm1d, dict(num_features=0), V, "num_features"),
    (rl.batchnorm.BatchNorm1d, dict(momentum=2.0), V, "momentum"),
    (rl.batchnorm.BatchNorm1d, dict(affine=1), T, "affine"),
    (rl.batchnorm.BatchNorm2d, dict(num_features=3.0), T, "num_features"),
    (rl.batchnorm.BatchNorm2d, dict(eps=-1.0), V, "eps"),
    (rl.scenes.segmentation, dict(n=2.0), T, "n must"),
    (rl.scenes.segmentation, dict(n=0), V, "n must"),
    (rl.scenes.segmentation, dict(size=4), V, "size"),
    (rl.scenes.segmentation, dict(shapes=2.0), T, "shapes"),
    (rl.scenes.segmentation, dict(noise="low"), T, "noise"),
    (rl.scenes.segmentation, dict(noise=-1.0), V, "noise"),
    (rl.scenes.keypoints, dict(size=8.0), T, "size"),
    (rl.scenes.keypoints, dict(seed=-1), V, "seed"),
    (rl.scenes.keypoints, dict(sigma=0), V, "sigma"),
    (rl.scenes.gaussian_heatmaps, dict(size=8.0), T, "size"),
    (rl.scenes.gaussian_heatmaps, dict(sigma=0.0), V, "sigma"),
    (rl.scenes.gaussian_heatmaps, dict(coords=[[[0.0, 0.0]]]), T, "coords"),
    (rl.scenes.iou, dict(num_classes=3.0), T, "num_classes"),
    (rl.scenes.iou, dict(num_classes=0), V, "num_classes"),
    (rl.data.mnist1d, dict(num_samples=100.0), T, "num_samples"),
    (rl.data.mnist1d, dict(num_samples=105), V, "num_samples"),
    (rl.data.mnist1d, dict(train_split="0.8"), T, "train_split"),
    (rl.data.mnist1d, dict(train_split=1.0), V, "train_split"),
    (rl.data.mnist1d, dict(seed=1.0), T, "seed"),
    (rl.data.cifar10, dict(num_train=10.0), T, "num_train"),
    (rl.data.cifar10, dict(num_train=0), V, "num_train"),
    (rl.runtime.set_seed, dict(seed=1.0), T, "seed"),
    (rl.runtime.set_seed, dict(seed=-1), V, "seed"),
]


def _id(row: tuple) -> str:
    fn, bad, error, _ = row
    return f"{fn.__module__.removeprefix('reslib.')}.{fn.__name__}-{bad}-{error.__name__}"


@pytest.mark.parametrize("fn, bad, error, word", ROWS, ids=[_id(r) for r in ROWS])
def test_a_bad_argument_raises_the_right_error_and_names_it(fn, bad, error, word):
    with pytest.raises(error, match=word):
        fn(**(BASE[fn]() | bad))


def test_every_callable_has_a_type_row_and_a_value_row():
    kinds = {fn: set() for fn in BASE}
    for fn, _, error, _ in ROWS:
        kinds[fn].add(error)
    only_values = {rl.paths.reorder}  # a permutation: only its value can be wrong
    missing = {fn.__name__: {T, V} - k for fn, k in kinds.items() if fn not in only_values and k != {T, V}}
    assert not missing


@pytest.mark.parametrize("fn", [fn for fn in BASE if fn is not rl.data.cifar10], ids=lambda fn: fn.__name__)
def test_the_base_arguments_are_valid(fn):
    fn(**BASE[fn]())  # so each row fails because of its bad value, not of the base
