r"""A sequence task made on the spot, and a training loop with learning-rate warm-up for it.

`sequence_task` draws short digit sequences and asks for them sorted (or reversed): position $t$ of
the output must be the $t$-th smallest input digit, which no position can know without looking at the
others, so the task needs attention. Nothing is downloaded; a seed fixes every sequence.

`train_sequence_models` is Adam on mini-batches with an optional linear warm-up,
$\eta_t = \eta\,\min(1, (t + 1)/T_\text{warm})$ (Vaswani et al. 2017 used warm-up for exactly the post-LN
transformer studied here).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from reslib import stacking
from reslib.guard import require_work
from reslib.runtime import device as best_device
from reslib.runtime import stop_requested
from reslib.validate import (
    require_choice,
    require_device,
    require_float,
    require_int,
    require_memory,
    require_seed,
    require_tensor,
    typechecked,
)

__all__ = [
    "TASKS",
    "SequenceData",
    "SequenceRun",
    "sequence_accuracy",
    "sequence_task",
    "train_sequence_models",
]

TASKS = ("sort", "reverse")


@dataclass(frozen=True)
class SequenceData:
    """Token sequences and their targets, a training and a test split, all (N, length) int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    vocab_size: int
    task: str

    def __post_init__(self) -> None:
        require_int("vocab_size", self.vocab_size, minimum=2, maximum=2**20)
        if not isinstance(self.task, str):
            raise TypeError(
                f"task must be a str, one of {', '.join(map(repr, TASKS))}, got {self.task!r:.40}"
            )
        require_choice("task", self.task, TASKS)
        splits = (("x_train", "y_train"), ("x_test", "y_test"))
        for x_name, y_name in splits:
            for name in (x_name, y_name):
                require_tensor(name, getattr(self, name), ndim=2, dtype="label", fix="token sequences (N, T)")
            x, y = getattr(self, x_name), getattr(self, y_name)
            if x.shape != y.shape:
                raise ValueError(
                    f"{x_name} {tuple(x.shape)} and {y_name} {tuple(y.shape)} must have the same shape (N, T)"
                )
        if self.x_test.shape[1] != self.x_train.shape[1]:
            raise ValueError(
                f"x_train has sequences of length {self.x_train.shape[1]}, x_test of length "
                f"{self.x_test.shape[1]}; both splits need one length T"
            )
        devices = {getattr(self, name).device for pair in splits for name in pair}
        if len(devices) > 1:
            raise ValueError(f"the four tensors must share one device, got {sorted(map(str, devices))}")
        for pair in splits:
            for name in pair:
                _require_tokens(name, getattr(self, name), self.vocab_size, "vocab_size")

    @property
    def length(self) -> int:
        return self.x_train.shape[1]

    def __repr__(self) -> str:
        return (
            f"SequenceData({self.task!r}: {len(self.x_train)} training and {len(self.x_test)} test "
            f"sequences of {self.length} digits in 0..{self.vocab_size - 1})"
        )


def _require_tokens(name: str, t: torch.Tensor, n: int, what: str) -> None:
    """Refuse values of the integer tensor `t` outside [0, n) (reads them: for a public call's inputs)."""
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= n:
        raise ValueError(f"{name} must hold values in [0, {n - 1}] ({what}={n}), got values in [{lo}, {hi}]")


@typechecked
def sequence_task(
    n_train: int = 2000,
    n_test: int = 500,
    length: int = 8,
    vocab_size: int = 10,
    task: str = "sort",
    seed: int = 0,
    device: torch.device | str | None = None,
) -> SequenceData:
    r"""Random digit sequences $x \in \{0..V-1\}^T$ and targets `sort(x)` or `reverse(x)`.

    Drawn from a local `torch.Generator` seeded with `seed`: the same seed gives the same data, and
    torch's global RNG does not move.

    Args:
        n_train, n_test: sequences per split. length: digits T per sequence.
        vocab_size: digits V. task: `"sort"` or `"reverse"`. seed: >= 0.
        device: where the tensors go (None: `reslib.device()`).
    """
    require_int("n_train", n_train, maximum=10**7)
    require_int("n_test", n_test, maximum=10**7)
    require_int("length", length, minimum=2, maximum=4096)
    require_int("vocab_size", vocab_size, minimum=2, maximum=2**20)
    require_choice("task", task, TASKS)
    require_seed("seed", seed)
    dev = require_device("device", device) or best_device()
    require_memory(
        "sizes", dict(n_train=n_train, n_test=n_test, length=length), 16 * (n_train + n_test) * length
    )
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(vocab_size, (n_train + n_test, length), generator=gen)  # (N, T)
    y = x.sort(dim=1).values if task == "sort" else x.flip(1)
    x, y = x.to(dev), y.to(dev)
    return SequenceData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], vocab_size, task)


@dataclass(frozen=True)
class SequenceRun:
    """One training run: the loss of every step, and how it ended.

    `diverged_at` is the step whose loss or weights stopped being finite (training stopped there);
    `accuracy` is the share of test positions predicted right at the end (0 if diverged).
    """

    loss: np.ndarray  # (steps run,) training loss of each step's batch
    accuracy: float
    diverged_at: int | None
    lr: float
    warmup: int

    def __post_init__(self) -> None:
        if not isinstance(self.loss, np.ndarray) or self.loss.ndim != 1:
            raise TypeError(
                f"loss must be a 1-D numpy array (one training loss per step), got "
                f"{type(self.loss).__name__} {getattr(self.loss, 'shape', '')}; pass np.asarray(losses)"
            )
        if not np.issubdtype(self.loss.dtype, np.floating):
            raise TypeError(f"loss must hold floats, got dtype {self.loss.dtype}; pass loss.astype(float)")
        require_float("accuracy", self.accuracy, 0.0, 1.0, fix="the share of test positions right")
        if self.diverged_at is not None:
            require_int("diverged_at", self.diverged_at, minimum=0, fix="the step that diverged, or None")
        require_float("lr", self.lr, 0.0, strict_minimum=True)
        require_int("warmup", self.warmup, minimum=0)

    @property
    def final_loss(self) -> float:
        """The mean training loss over the last 10 % of the steps (inf if diverged)."""
        if self.diverged_at is not None:
            return math.inf
        return float(self.loss[-max(1, len(self.loss) // 10) :].mean())


@typechecked
@torch.no_grad()
def sequence_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of positions where `model(x)`'s most likely token equals `y` (eval mode)."""
    # finite: a meta tensor (no values) is refused here, not by .item() below
    require_tensor("x", x, ndim=2, dtype="label", fix="token sequences (N, T)", finite=True)
    require_tensor("y", y, ndim=2, dtype="label", fix="target sequences (N, T)", finite=True)
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape (N, T)")
    vocab_size = getattr(model, "vocab_size", None)
    if isinstance(vocab_size, int):  # a reslib Transformer: its token ids
        _require_tokens("x", x, vocab_size, "the model's vocab_size")
    was_training = model.training
    model.eval()
    try:
        logits = model(x)  # (N, T, classes)
    finally:
        model.train(was_training)
    if logits.ndim != 3 or logits.shape[:2] != x.shape:
        raise ValueError(
            f"model must map tokens (N, T) to logits (N, T, classes), got {tuple(logits.shape)} for "
            f"x {tuple(x.shape)}"
        )
    # a label the model cannot output would be scored 'wrong' silently: refuse it
    _require_tokens("y", y, logits.shape[-1], "the model's output classes")
    if not bool(torch.isfinite(logits).all()):  # argmax of NaN logits would still score a share
        raise ValueError(
            "model returned NaN or inf logits (its weights are not finite: a run that diverged); "
            "it has no accuracy to measure"
        )
    return (logits.argmax(-1) == y).float().mean().item()


def _require_training_time(model: nn.Module, M: int, data: SequenceData, steps: int, batch_size: int) -> None:
    """Refuse, before the first step, a run that would take past `reslib.guard.WORK_LIMIT`.

    Per step and model, the matmuls do $6P$ FLOPs per token for $P$ weights (forward $2P$,
    backward $4P$) plus attention's $4 T d$ per block; per step, the stacked forward and backward
    issue about 13 PyTorch operations per module, and a few hundred more for Adam and the batch.
    Measured on 2 cores, one thread: 6 models of notebook 11's 12 blocks, 150 steps: 9.6 s
    (estimated 12 s); 1 model of 4 blocks, 100 steps: 0.8 s (estimated 1.3 s); 2 of 2 blocks,
    300 steps: 1.7 s (estimated 3.0 s). The stacked matmuls run about 3x faster than
    `FLOPS_PER_SECOND`, so the count below is a third of $6P$ per token.
    """
    weights = sum(p.numel() for p in model.parameters())
    T = data.x_train.shape[1]
    tokens = min(batch_size, len(data.x_train)) * T
    blocks = getattr(model, "blocks", ())
    d_model = getattr(getattr(model, "wte", None), "embedding_dim", 0)
    per_token = 2 * weights + 4 * T * d_model * len(blocks)
    modules = sum(1 for _ in model.modules())
    require_work(
        dict(steps=steps, models=M, batch_size=batch_size),
        flops=steps * M * tokens * per_token,
        operations=steps * (300 + 13 * modules + 3 * M),
    )


@typechecked
def train_sequence_models(
    models: Sequence[nn.Module],
    data: SequenceData,
    steps: int,
    lr: float,
    warmup: int | Sequence[int] = 0,
    batch_size: int = 32,
    betas: tuple[float, float] = (0.9, 0.98),
    seeds: Sequence[int] | None = None,
) -> list[SequenceRun]:
    r"""Train models of one architecture side by side: Adam with a linear warm-up of `warmup` steps.

    $\eta_t = \eta\,\min(1, (t + 1)/T_\text{warm})$ ($T_\text{warm} = 0$: the full rate from the first
    step), minimising per-position cross-entropy. The models (say, one per seed) are stacked and run
    as one network: `reslib.transformer` models as grouped products (`reslib.stacking.grouped`), any
    other model in one `torch.func.vmap` call (`make bench`, 6 post-LN models on one thread: 103
    against 91 optimizer steps/s with 12 blocks, 327 against 287 with 4). Adam (PyTorch's update,
    $\epsilon = 10^{-8}$) acts element by element, so each model follows the path it would follow
    alone, only faster. Model $i$ draws its batches
    from `seeds[i]` (a local generator). A model whose loss or weights stop being finite gets
    `diverged_at`; the others go on. The trained weights are written back into `models`.

    Args:
        models: maps (B, T) tokens to (B, T, classes) logits, all with the same parameter shapes
            (e.g. `reslib.transformer.transformer` with different seeds).
        data: a `SequenceData`. steps: optimiser steps. lr: peak learning rate $\eta$.
        warmup: warm-up steps, 0..steps: one for all models, or one per model.
        batch_size: sequences per step and model.
        betas: Adam's $(\beta_1, \beta_2)$. seeds: the batch order of each model (default 0, 1, ...).
    """
    require_int("steps", steps, maximum=10**6)
    lr = require_float("lr", lr, 0.0, 10.0, strict_minimum=True)
    require_int("batch_size", batch_size, maximum=10**6)
    for i, beta in enumerate(betas):
        require_float(f"betas[{i}]", beta, 0.0, 1.0, fix="Adam's betas lie in [0, 1), e.g. (0.9, 0.98)")
        if beta >= 1.0:
            raise ValueError(
                f"betas[{i}] must be < 1, got {beta}; Adam's betas lie in [0, 1), e.g. (0.9, 0.98)"
            )
    models = list(models)
    M = len(models)
    seeds = list(range(M)) if seeds is None else list(seeds)
    warmups = [warmup] * M if isinstance(warmup, int) else list(warmup)
    if not models or len(seeds) != M or len(warmups) != M:
        raise ValueError(
            f"need at least one model, and one seed and one warmup per model; got {M} models, "
            f"{len(seeds)} seeds and {len(warmups)} warmups"
        )
    for i, s in enumerate(seeds):
        require_seed(f"seeds[{i}]", s)
    for w in warmups:
        require_int("warmup", w, minimum=0, maximum=steps, fix="at most the number of steps")
    shapes = [[(k, v.shape) for k, v in m.named_parameters()] for m in models]
    if any(sh != shapes[0] for sh in shapes) or not shapes[0]:
        raise ValueError("models must share one architecture (the same parameter names and shapes)")
    _require_training_time(models[0], M, data, steps, batch_size)
    x, y = data.x_train, data.y_train
    if any(p.device != x.device for m in models for p in m.parameters()):
        raise ValueError(f"data is on {x.device} but a model is not; use model.to({x.device})")
    if stacking.groupable(models[0]):  # reslib's transformers: one network of grouped products
        network, params, buffers = stacking.grouped(models)  # name -> (M, ...) leaf tensors

        def batched(xb: torch.Tensor) -> torch.Tensor:
            return network(xb)
    else:  # any other model: torch.func.vmap over stacked copies (about 1.1x slower per step)
        params, buffers = stack_module_state(models)  # name -> (M, ...)
        base = copy.deepcopy(models[0]).to("meta")
        vmapped = vmap(lambda p, b, xb: functional_call(base, (p, b), (xb,)))

        def batched(xb: torch.Tensor) -> torch.Tensor:
            return vmapped(params, buffers, xb)

    leaves = list(params.values())
    sizes = [t[0].numel() for t in leaves]
    (beta1, beta2), eps = betas, 1e-8
    P = sum(sizes)
    m, v = torch.zeros(M, P, device=x.device), torch.zeros(M, P, device=x.device)  # Adam's moments, (M, P)
    ramp = torch.tensor([[1.0 / w if w else 1.0] for w in warmups], device=x.device)  # (M, 1)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    batch = min(batch_size, len(x))
    losses = []
    for t in range(1, steps + 1):
        if stop_requested():  # interrupted while training in a thread of runtime.parallel
            raise KeyboardInterrupt
        idx = torch.stack([torch.randint(len(x), (batch,), generator=g) for g in gens]).to(x.device)  # (M, B)
        logits = batched(x[idx])  # (M, B, T, classes)
        each = F.cross_entropy(logits.flatten(0, 2), y[idx].flatten(), reduction="none")
        each = each.view(M, -1).mean(1)  # (M,) one loss per model
        grads = torch.autograd.grad(each.sum(), leaves)  # model i's weights get loss i's gradient only
        with torch.no_grad():  # Adam, as torch.optim.Adam computes it, with one rate per model
            grad = torch.cat([g.reshape(M, -1) for g in grads], 1)  # (M, P)
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            rate = lr * (ramp * t).clamp(max=1.0) / (1 - beta1**t)  # (M, 1) warm-up, bias correction
            update = rate * m / (v.sqrt() / math.sqrt(1 - beta2**t) + eps)
            for leaf, part in zip(leaves, update.split(sizes, 1), strict=True):
                leaf.sub_(part.view_as(leaf))
        losses.append(each.detach())
    curves = torch.stack(losses).float().cpu().numpy().T  # (M, steps)
    finite = torch.stack([leaf.detach().reshape(M, -1).isfinite().all(1) for leaf in leaves]).all(0).cpu()
    runs = []
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, leaf in params.items():
                model.get_parameter(name).copy_(leaf[i])
            for name, buffer in buffers.items():
                model.get_buffer(name).copy_(buffer[i])
            bad = np.flatnonzero(~np.isfinite(curves[i]))
            diverged = int(bad[0]) if len(bad) else (None if finite[i] else steps - 1)
            curve = curves[i] if diverged is None else curves[i, :diverged]
            acc = 0.0 if diverged is not None else sequence_accuracy(model, data.x_test, data.y_test)
            runs.append(SequenceRun(curve, acc, diverged, lr, warmups[i]))
    return runs
