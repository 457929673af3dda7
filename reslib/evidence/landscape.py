"""Evidence for loss landscapes and width vs depth: the checks notebook 10's prose reports (see core.py)."""

from __future__ import annotations

import math

import numpy as np
from torch import nn

from reslib import data as rdata
from reslib import landscape, mlp, runtime, train
from reslib.evidence.core import claim
from reslib.preact import PreActBlock, PreActBottleneck
from reslib.resnet import ResNet

__all__: list[str] = []

SEEDS = (0, 1, 2)
GRID_DEPTHS, GRID_BUDGET = (1, 4, 16), 20_000


def _percent(shares: np.ndarray) -> list[int]:
    return np.round(100 * shares).astype(int).tolist()


def _landscape_mlp(depth: int, residual: bool, seed: int, data: rdata.TensorData, epochs: int) -> nn.Module:
    """The notebook's section-1 network: width 32, plain or residual (1/sqrt 2), Adam at 1e-3."""
    runtime.set_seed(seed)
    scale = 1 / math.sqrt(2) if residual else 1.0
    model = mlp.mlp(depth, 32, 40, 10, residual=residual, residual_scale=scale)
    train.fit(model, data, epochs=epochs, lr=1e-3, optimizer="adam", seed=seed, progress=False)
    return model


@claim(
    "landscape-nonconvexity-seeds",
    "at depth 20 the plain MLP's 2-D slice is non-convex at more points than the residual MLP's "
    "on seeds 0-2, at 10 epochs (500 probe signals) and at 30 epochs (1,000)",
)
def _landscape_nonconvexity_seeds() -> str:
    data = rdata.mnist1d(device=runtime.device())
    found = []
    for epochs, probes in ((10, 500), (30, 1000)):
        probe = (data.x_train[:probes], data.y_train[:probes])
        share = {}
        for seed in SEEDS:
            for residual in (False, True):
                with runtime.num_threads(1):
                    net = _landscape_mlp(20, residual, seed, data, epochs)
                share[residual, seed] = landscape.loss_slice_2d(
                    net, probe, steps=21, span=0.5, seed=seed
                ).nonconvexity
        plain = np.array([share[False, s] for s in SEEDS])
        residual = np.array([share[True, s] for s in SEEDS])
        found.append((epochs, probes, plain, residual))
    text = "; ".join(f"{e} ep/{n}: plain {_percent(p)} %, residual {_percent(r)} %" for e, n, p, r in found)
    for e, n, p, r in found:
        assert np.all(p > r), (
            f"{e} epochs, {n} probes: the plain share is not above the residual one on every seed: {text}"
        )
        assert p.mean() > 2 * r.mean(), (
            f"{e} epochs, {n} probes: plain mean not twice the residual mean: {text}"
        )
    means_p = [p.mean() for *_, p, _ in found]
    means_r = [r.mean() for *_, r in found]
    spans = [f"{100 * min(m):.0f}-{100 * max(m):.0f} %" for m in (means_p, means_r)]
    return f"{text} (means: plain {spans[0]}, residual {spans[1]})"


def _grid_errors(
    depth: int,
    width: int,
    residual: bool,
    seed: int,
    data: rdata.TensorData,
    epochs: int,
    optimizer: str = "adam",
) -> tuple[float, float]:
    """(training error, test error) of one network of the notebook's width/depth grid."""
    runtime.set_seed(seed)
    scale = 1 / math.sqrt(2) if residual else 1.0
    model = mlp.mlp(depth if residual else depth + 1, width, 40, 10, residual=residual, residual_scale=scale)
    lr = 1e-3 if optimizer == "adam" else 0.05  # Adam as in notebook 10, SGD (momentum 0.9) as in notebook 01
    with runtime.num_threads(1):
        train.fit(model, data, epochs=epochs, lr=lr, optimizer=optimizer, seed=seed, progress=False)
    return train.evaluate(model, data.x_train, data.y_train)[1], train.evaluate(model, data)[1]


@claim(
    "width-depth-seeds",
    "at 20,000 parameters (Adam), 16 narrow layers fit MNIST-1D more slowly than 4 wider ones on seeds 0-2: "
    "behind by 0.05 at 10 epochs; at 40 the 4-layer nets' training error is below 0.12 and the 16-layer "
    "nets' above 0.18, with or without skips",
)
def _width_depth_seeds() -> str:
    data = rdata.mnist1d(device=runtime.device())
    widths = [mlp.width_for_budget(d, GRID_BUDGET, 40, 10) for d in GRID_DEPTHS]
    err = {}  # (epochs, seed) -> array (depths, kinds, train/test)
    for epochs in (10, 40):
        for seed in SEEDS:
            err[epochs, seed] = np.array(
                [
                    [_grid_errors(d, w, r, seed, data, epochs) for r in (False, True)]
                    for d, w in zip(GRID_DEPTHS, widths, strict=True)
                ]
            )
    train10 = np.array([err[10, s][..., 0] for s in SEEDS])  # (seeds, depths, kinds)
    train40 = np.array([err[40, s][..., 0] for s in SEEDS])
    test40 = np.array([err[40, s][..., 1] for s in SEEDS])
    gap10 = train10[:, 2] - train10[:, 1]  # 16 layers minus 4 layers, (seeds, kinds)
    gap40 = train40[:, 2] - train40[:, 1]
    text = (
        f"16-layer minus 4-layer training error (plain, residual): 10 epochs {np.round(gap10, 2).tolist()}, "
        f"40 epochs {np.round(gap40, 2).tolist()}; at 40 epochs training error 4 layers "
        f"{np.round(train40[:, 1], 2).tolist()}, 16 layers {np.round(train40[:, 2], 2).tolist()}; "
        f"test error range {test40.min():.2f}-{test40.max():.2f}"
    )
    assert gap10.min() > 0.05, f"at 10 epochs 16 layers should be clearly behind 4: {text}"
    assert gap40.min() > 0.05, f"at 40 epochs 16 layers should still be behind 4: {text}"
    assert train40[:, 1].max() < 0.12, f"at 40 epochs the 4-layer nets should fit almost completely: {text}"
    assert train40[:, 2].min() > 0.18, f"at 40 epochs the 16-layer nets should still be far from it: {text}"
    return text


@claim(
    "width-depth-optimizer",
    "at 16 layers of width 33, with notebook 01's optimiser (SGD, momentum 0.9, lr 0.05, 20 epochs) "
    "the residual net reaches a lower training error than the plain one on seeds 0-2, by more than 0.03",
)
def _width_depth_optimizer() -> str:
    data = rdata.mnist1d(device=runtime.device())
    width = mlp.width_for_budget(16, GRID_BUDGET, 40, 10)
    err = np.array(
        [[_grid_errors(16, width, r, s, data, 20, "sgd")[0] for r in (False, True)] for s in SEEDS]
    )
    plain, residual = np.round(err[:, 0], 2).tolist(), np.round(err[:, 1], 2).tolist()
    text = f"training error plain {plain}, residual {residual} (seeds 0-2)"
    assert np.all(err[:, 1] < err[:, 0] - 0.03), (
        f"the residual net should fit better by 0.03 on every seed: {text}"
    )
    return text


@claim(
    "wide-resnet-parameters",
    "built with reslib's pre-activation blocks, WRN-40-4 has fewer parameters than the 1001-layer ResNet "
    "and WRN-16-8 more (Zagoruyko & Komodakis: 8.9 M, 10.2 M, 11.0 M)",
)
def _wide_resnet_parameters() -> str:
    def count(block: type[nn.Module], blocks: int, width: int) -> int:
        net = ResNet(
            block, [blocks] * 3, num_classes=10, widths=(width, 2 * width, 4 * width), stem_type="cifar"
        )
        return sum(p.numel() for p in net.parameters())

    n = {
        "WRN-40-4": count(PreActBlock, 6, 64),  # (40 - 4) / 6 = 6 blocks per stage, 16 k wide
        "WRN-16-8": count(PreActBlock, 2, 128),
        "ResNet-1001": count(PreActBottleneck, 111, 16),  # (1001 - 2) / 9 = 111 bottlenecks per stage
    }
    paper = {"WRN-40-4": 8.9e6, "WRN-16-8": 11.0e6, "ResNet-1001": 10.2e6}
    text = ", ".join(f"{k} {v / 1e6:.2f} M (paper {paper[k] / 1e6:.1f} M)" for k, v in n.items())
    assert all(abs(n[k] / paper[k] - 1) < 0.02 for k in n), (
        f"counts should be within 2 % of the paper's: {text}"
    )
    assert n["WRN-40-4"] < n["ResNet-1001"] < n["WRN-16-8"], text
    return text
