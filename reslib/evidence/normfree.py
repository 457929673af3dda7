"""Evidence for training without batch norm: the checks notebook 10's prose reports (see core.py)."""

from __future__ import annotations

from reslib import data as rdata
from reslib import normfree, runtime, train
from reslib.evidence.core import claim

__all__: list[str] = []

SEEDS = (0, 1, 2)


@claim(
    "normfree-schemes-seeds",
    "at 32 blocks on seeds 0-2: He init without BN diverges in the first epoch; batchnorm, zero-gamma, "
    "ReZero and Fixup train (loss below 1.4 at 6 epochs, about 1.0 or below at 15); at 6 epochs ReZero "
    "is 0.15 above zero-gamma",
)
def _normfree_schemes_seeds() -> str:
    data = rdata.mnist1d(device=runtime.device())
    final = {}  # (scheme, seed, epochs) -> final training loss, or None when it diverged
    diverged = {}
    for seed in SEEDS:
        for scheme in normfree.SCHEMES:
            for epochs in (6, 15) if scheme != "default" else (6,):
                runtime.set_seed(seed)
                model = normfree.normfree_mlp(32, 32, 40, 10, scheme)
                with runtime.num_threads(1):
                    h = train.fit(model, data, epochs=epochs, lr=0.05, seed=seed, progress=False)
                diverged[scheme, seed, epochs] = h.diverged_at
                final[scheme, seed, epochs] = h.train_loss[-1] if h.diverged_at is None else None
    trains = [s for s in normfree.SCHEMES if s != "default"]
    text = "; ".join(
        f"{s} " + "/".join(f"{final[s, seed, 6]:.2f}>{final[s, seed, 15]:.2f}" for seed in SEEDS)
        for s in trains
    )
    first = [diverged["default", s, 6] for s in SEEDS]
    text = f"default diverged at epoch {first} (0 = first); 6>15-epoch loss, seeds 0/1/2: {text}"
    assert all(diverged["default", s, 6] == 0 for s in SEEDS), text
    for s in trains:
        for seed in SEEDS:
            assert final[s, seed, 6] is not None and final[s, seed, 6] < 1.4, (
                f"{s}, seed {seed}, 6 epochs: {text}"
            )
            assert final[s, seed, 15] is not None and final[s, seed, 15] < 1.05, (
                f"{s}, seed {seed}, 15 epochs: {text}"
            )
        pass
    gap = [final["rezero", seed, 6] - final["zero_gamma", seed, 6] for seed in SEEDS]
    assert min(gap) > 0.15, f"ReZero minus zero-gamma at 6 epochs {gap}: {text}"
    return f"{text}; ReZero minus zero-gamma at 6 epochs {[round(g, 2) for g in gap]}"
