"""A small, fast training loop for classifiers on in-memory tensors.

No DataLoader: the data already sits on the device, so a mini-batch is one
indexing operation. Per-batch losses and logits are kept (detached) and
reduced once per epoch, so a step does no extra work and the loop never waits
on the GPU mid-epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from reslib.data import TensorData

__all__ = ["History", "evaluate", "fit", "make_optimizer"]


@dataclass
class History:
    """Per-epoch curves from `fit`.

    `train_loss` / `train_error` average the mini-batches of each epoch (as the
    weights change); `test_loss` / `test_error` are measured after each epoch
    in eval mode. `diverged_at` is the epoch whose loss became inf or NaN.
    """

    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor | TensorData, y: torch.Tensor | None = None,
    batch_size: int = 1000,
) -> tuple[float, float]:
    """Mean cross-entropy loss and error rate of `model` on `(x, y)`, in eval mode.

    Args:
        model: a classifier returning logits of shape (N, classes).
        x: inputs (N, ...), or a `TensorData` (then its test split is used).
        y: labels (N,); omit when `x` is a `TensorData`.
        batch_size: examples per forward pass.

    Returns:
        `(loss, error)`, both Python floats; error is in [0, 1].
    """
    if isinstance(x, TensorData):
        x, y = x.x_test, x.y_test
    if y is None or len(x) != len(y):
        raise ValueError("evaluate needs inputs and labels of the same length")
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    wrong = torch.zeros((), device=x.device)
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        loss_sum += F.cross_entropy(logits, y[i : i + batch_size], reduction="sum")
        wrong += (logits.argmax(1) != y[i : i + batch_size]).sum()
    model.train(was_training)
    return loss_sum.item() / len(x), wrong.item() / len(x)


def make_optimizer(
    model: nn.Module, name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """`"sgd"` (with momentum) or `"adam"` over all of `model`'s parameters."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                               weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {name!r}")


def fit(
    model: nn.Module,
    data: TensorData,
    epochs: int,
    lr: float,
    batch_size: int = 100,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train `model` with cross-entropy on `data` for `epochs` passes; return the curves.

    The model is moved to the data's device. Each epoch visits the training set
    in an order drawn from `seed`, so the same call gives the same curves.
    Training stops early, with `History.diverged_at` set, if the loss stops
    being finite.

    Args:
        model: a classifier returning logits of shape (N, data.num_classes).
        data: a `TensorData`, e.g. `reslib.data.mnist1d()`.
        epochs: passes over the training set, >= 1.
        lr: learning rate.
        batch_size: examples per step.
        optimizer: `"sgd"` (with `momentum`) or `"adam"`.
        seed: seed of the shuffling order.
        progress: show a tqdm progress bar.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(data, TensorData):
        raise TypeError(f"data must be a reslib.data.TensorData, got {type(data).__name__}")
    x, y = data.x_train, data.y_train
    model.to(x.device)
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    history = History()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=gen).to(x.device)
        losses, outputs = [], []  # detached, so no graph is kept; summed once per epoch
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
            outputs.append(logits.detach())
        sizes = torch.tensor([len(o) for o in outputs], device=x.device, dtype=torch.float32)
        loss_sum = (torch.stack(losses) * sizes).sum()
        wrong = (torch.cat(outputs).argmax(1) != y[order]).sum()
        train_loss = loss_sum.item() / n  # the one sync per epoch
        history.train_loss.append(train_loss)
        history.train_error.append(wrong.item() / n)
        if not math.isfinite(train_loss):
            history.diverged_at = epoch
            break
        test_loss, test_error = evaluate(model, data.x_test, data.y_test)
        history.test_loss.append(test_loss)
        history.test_error.append(test_error)
        bar.set_postfix(loss=f"{train_loss:.3f}", test_error=f"{test_error:.3f}")
    bar.close()
    return history
