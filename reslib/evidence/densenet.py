"""Evidence for DenseNet: the checks notebook 08's prose reports (see reslib/evidence/core.py)."""

from __future__ import annotations

import torch
from torch import nn

import reslib as rl
from reslib.evidence.core import claim

__all__: list[str] = []

K0, K, LAYERS = 8, 4, 6  # the notebook's small 1-D DenseNet: one block of 6 layers, growth rate 4


def _source_weights(block: rl.densenet.DenseBlock) -> torch.Tensor:
    """(L + 1, L): mean |1x1 weight x BN scale| of layer l (column) on source s (row), / column max."""
    layers = list(block.values())
    m = torch.full((len(layers) + 1, len(layers)), float("nan"))
    for col, layer in enumerate(layers):
        bn = layer.norm1
        scale = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
        per_channel = layer.conv1.weight.detach().abs().mean(dim=(0, 2)).cpu() * scale.cpu()
        for s, part in enumerate(per_channel.split([K0] + [K] * col)):
            m[s, col] = part.mean()
    return m / m.nan_to_num(0).amax(dim=0)


@claim(
    "densenet-feature-reuse",
    "on seeds 0-2, after 5 and 15 epochs, every layer of the 1-D dense block keeps >= 20 % of its largest "
    "per-source weight on every earlier source, the block input included",
)
def _feature_reuse() -> str:
    data = rl.data.mnist1d(device=rl.device())
    rows = []
    for seed in (0, 1, 2):
        for epochs in (5, 15):
            with rl.runtime.num_threads(1):
                rl.set_seed(seed)
                small = rl.densenet.DenseNet(
                    K, (LAYERS,), K0, num_classes=10, in_channels=1, stem_type="cifar", dim=1
                )
                net = nn.Sequential(nn.Unflatten(1, (1, 40)), small)
                h = rl.train.fit(
                    net, data, epochs=epochs, lr=0.1, weight_decay=5e-4, seed=seed, progress=False
                )
            reuse = _source_weights(small.features.denseblock1)
            low, last_x0 = reuse[~reuse.isnan()].min().item(), reuse[0, -1].item()
            assert low >= 0.2, f"seed {seed}, {epochs} epochs: smallest relative weight {low:.2f}\n{reuse}"
            rows.append(
                f"s{seed}/{epochs}ep: error {h.test_error[-1]:.0%}, min {low:.2f}, last on x0 {last_x0:.2f}"
            )
    return "; ".join(rows)


@claim(
    "densenet-exercise-answers",
    "exercise 3's model answer: without compression DenseNet-BC-100's widest layer reads 588 channels "
    "(330 with), its last block outputs 600 (342); "
    "saved memory 8.0 MiB per image at depth 40, 33.3 at 100 (x4.2)",
)
def _exercise_answers() -> str:
    widths = {}
    for theta in (1.0, 0.5):
        plan = rl.densenet.channel_plan(12, (16, 16, 16), 24, compression=theta)
        widths[theta] = (max(max(row.layer_inputs) for row in plan), plan[-1].out)
    assert widths == {1.0: (588, 600), 0.5: (330, 342)}, f"(widest layer input, last block out): {widths}"
    x = torch.randn(2, 3, 32, 32)
    mib = {}
    for depth in (40, 100):
        torch.manual_seed(0)
        mib[depth] = rl.costs.saved_tensor_bytes(rl.densenet.densenet_bc(depth=depth), x) / len(x) / 2**20
    ratio = mib[100] / mib[40]
    assert round(mib[40], 1) == 8.0 and round(mib[100], 1) == 33.3 and 4.1 < ratio < 4.3, f"MiB {mib}"
    return (
        f"widest/last out: theta 1 {widths[1.0]}, theta 0.5 {widths[0.5]}; "
        f"MiB/image {mib[40]:.1f} vs {mib[100]:.1f} (x{ratio:.1f})"
    )
