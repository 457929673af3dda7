"""Evidence for forward variance: the checks notebook 04's prose reports (see reslib/evidence/core.py).

Notebook 04 trains four 20-block MLPs on MNIST-1D for five epochs with seed 0; this claim trains
them with seeds 0-2 for five and for eight epochs and asserts what its sentence says.
"""

from __future__ import annotations

import math

import reslib as rl
from reslib.evidence.core import claim

__all__: list[str] = []

NETS = {  # notebook 04, section 4
    "plain": dict(),
    "residual": dict(residual=True),
    "residual, s=1/sqrt2": dict(residual=True, residual_scale=1 / math.sqrt(2)),
    "residual + BN": dict(residual=True, norm="batch"),
}


@claim(
    "variance-training-seeds",
    "seeds 0-2, 5 and 8 epochs at learning rate 0.05: the unnormalised 20-block residual net diverges in its "
    "first epoch every time, and the 1/sqrt2 and BN nets end with a lower training loss than the plain net",
)
def _training_seeds() -> str:
    data = rl.data.mnist1d(device=rl.device())
    rows = []
    for epochs in (5, 8):
        for seed in (0, 1, 2):
            history = {}
            with rl.runtime.num_threads(1):  # tensors this small train faster on one thread
                for label, kw in NETS.items():
                    rl.set_seed(seed)
                    model = rl.mlp.mlp(20, 64, 40, 10, **kw)
                    history[label] = rl.train.fit(
                        model, data, epochs=epochs, lr=0.05, seed=seed, progress=False
                    )
            loss = {label: h.train_loss[-1] for label, h in history.items()}
            where = f"seed {seed}, {epochs} epochs"
            assert history["residual"].diverged_at == 0, (
                f"{where}: residual diverged at {history['residual'].diverged_at}"
            )
            for label in ("plain", "residual, s=1/sqrt2", "residual + BN"):
                assert history[label].diverged_at is None, f"{where}: {label} diverged"
            assert max(loss["residual, s=1/sqrt2"], loss["residual + BN"]) < loss["plain"], f"{where}: {loss}"
            rows.append(
                f"{where}: plain {loss['plain']:.2f}, 1/sqrt2 {loss['residual, s=1/sqrt2']:.2f}, "
                f"BN {loss['residual + BN']:.2f}"
            )
    return "unnormalised net diverged in epoch 1 every time; final training loss " + "; ".join(rows)
