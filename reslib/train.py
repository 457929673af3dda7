"""One small, fast training loop on in-memory tensors: classifiers, segmenters, heat-map predictors.

`fit` minimises cross-entropy by default; pass `loss_fn` for other tasks (for example
`reslib.unet.segmentation_loss` or `reslib.hourglass.heatmap_loss`).

No DataLoader: the data already sits on the device, so a mini-batch is one
indexing operation. Per-batch losses (and logits) are kept detached and
reduced once per epoch, so a step does no extra work and the loop never waits
on the GPU mid-epoch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from reslib.data import TensorData
from reslib.validate import (
    require_batch,
    require_bool,
    require_choice,
    require_float,
    require_int,
    typechecked,
)

__all__ = ["History", "LossFn", "evaluate", "fit", "make_optimizer"]

# (model output, target) -> a scalar loss, the mean over the batch
LossFn = Callable[[torch.Tensor | list[torch.Tensor], torch.Tensor], torch.Tensor]


# What a widget frontend shows for a view whose widget is gone: nothing (ipywidgets' own convention:
# JupyterLab's renderer hides a view with an empty model_id).
_REMOVED_VIEW = {
    "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": ""},
    "text/plain": "",
}


@contextlib.contextmanager
def _progress_bar(steps: Iterable, desc: str, enabled: bool) -> Iterator[tqdm]:
    """A tqdm bar over `steps` that leaves no trace once it is done.

    In a notebook tqdm draws the bar as a widget and, with `leave=False`, closes that widget
    at the end, but the output that displayed it stays in the notebook and names a widget that
    no longer exists. A saved copy of the notebook, such as RISE's slideshow or the notebook
    reopened, then shows "Error displaying widget: model not found" where the bar was. So the
    bar is displayed under a display id, and once tqdm has closed it, that output is replaced
    by an empty view, which every widget frontend hides. A bar stopped by an error stays (red,
    at the step where it stopped), as tqdm leaves it.
    """
    notebook = False
    if enabled:  # tqdm.auto picked its widget bar: this is a kernel with ipywidgets
        from tqdm.notebook import tqdm_notebook

        notebook = issubclass(tqdm, tqdm_notebook)
    bar = tqdm(steps, desc=desc, disable=not enabled, leave=False, **({"display": False} if notebook else {}))
    handle = None
    if notebook:
        from IPython.display import display

        handle = display(bar.container, display_id=True)
    try:
        yield bar
    finally:
        bar.close()
        if handle is not None and getattr(bar.container, "comm", None) is None:  # closed by tqdm
            handle.update(_REMOVED_VIEW, raw=True)


@dataclass
class History:
    """Per-epoch curves from `fit`.

    `train_loss` / `train_error` average the mini-batches of each epoch (as the
    weights change); `test_loss` / `test_error` are measured after each epoch
    in eval mode. `diverged_at` is the epoch whose loss became inf or NaN.
    The error rates are kept for classifiers (the default loss) only, and the test
    curves only when `fit` was given a `TensorData`; otherwise those lists stay empty.
    """

    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _require_classifier_data(model: nn.Module, x: torch.Tensor, y: torch.Tensor, moves: bool = False) -> None:
    """Inputs of the model's dtype (and device, unless the caller `moves` the model) and labels >= 0."""
    require_batch(x, y, "x", "y")
    weight = next(model.parameters(), None)
    if weight is not None and weight.dtype != x.dtype:
        raise TypeError(f"x holds {x.dtype}, the model's weights {weight.dtype}; use x.to({weight.dtype})")
    if weight is not None and not moves and weight.device != x.device:
        raise ValueError(f"x is on {x.device} but the model on {weight.device}; use model.to(x.device)")
    if y.device != x.device:
        raise ValueError(f"x is on {x.device} but y on {y.device}; put both on one device")
    if int(y.min()) < 0:
        raise ValueError(f"y must hold class indices >= 0, got {int(y.min())}")


@typechecked
@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor | TensorData,
    y: torch.Tensor | None = None,
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
    require_int("batch_size", batch_size)  # >= 1: a negative one used to skip every batch, scoring (0, 0)
    if isinstance(x, TensorData):
        x, y = x.x_test, x.y_test
    if y is None:
        raise ValueError("evaluate needs labels y, or a TensorData as x")
    _require_classifier_data(model, x, y)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    wrong = torch.zeros((), device=x.device)
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        if i == 0 and (logits.ndim != 2 or logits.shape[1] <= int(y.max())):
            model.train(was_training)
            raise ValueError(
                f"y holds class indices up to {int(y.max())}, but the model's output has shape "
                f"{tuple(logits.shape)}; a classifier returns logits (N, classes), classes > {int(y.max())}"
            )
        loss_sum += F.cross_entropy(logits, y[i : i + batch_size], reduction="sum")
        wrong += (logits.argmax(1) != y[i : i + batch_size]).sum()
    model.train(was_training)
    return loss_sum.item() / len(x), wrong.item() / len(x)


@typechecked
def make_optimizer(
    model: nn.Module, name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """`"sgd"` (with momentum) or `"adam"` over all of `model`'s parameters."""
    require_float("lr", lr, 0.0, strict_minimum=True)
    require_float("momentum", momentum, 0.0)
    require_float("weight_decay", weight_decay, 0.0)
    require_choice("optimizer name", name, ("sgd", "adam"))
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


@torch.no_grad()
def _test_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, batch_size: int = 1000
) -> float:
    """The mean of `loss_fn` over `(x, y)` in eval mode, weighting each batch by its size."""
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=x.device)
    for i in range(0, len(x), batch_size):
        total += loss_fn(model(x[i : i + batch_size]), y[i : i + batch_size]) * len(x[i : i + batch_size])
    model.train(was_training)
    return total.item() / len(x)


def _finite_parameters(model: nn.Module) -> bool:
    """Whether every parameter and buffer of `model` is finite (one sync)."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return not tensors or bool(torch.stack([t.isfinite().all() for t in tensors]).all())


@typechecked
def fit(
    model: nn.Module,
    data: TensorData | tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    lr: float,
    batch_size: int = 100,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    loss_fn: LossFn | None = None,
) -> History:
    """Train `model` on `data` for `epochs` passes, minimising `loss_fn`; return the curves.

    The model is moved to the data's device. Each epoch visits the training set
    in an order drawn from `seed` (a local `torch.Generator`), so the same call gives
    the same curves. Training stops early, with `History.diverged_at` set, if the loss
    or any weight stops being finite.

    Args:
        model: a classifier returning logits (N, classes), or any model `loss_fn` understands.
        data: a `TensorData` (train and test split, e.g. `reslib.data.mnist1d()`), or a pair
            `(x, target)` of training tensors (then no test curves are measured).
        epochs: passes over the training set, >= 1.
        lr: learning rate.
        batch_size: examples per step.
        optimizer: `"sgd"` (with `momentum`) or `"adam"`.
        momentum: SGD's momentum.
        weight_decay: L2 penalty, passed to the optimizer.
        seed: seed of the shuffling order.
        progress: show a tqdm progress bar while training (in a notebook, removed once done).
        loss_fn: `(output, target) -> mean loss`; None is cross-entropy on logits, and then the
            error rates are recorded too. E.g. `reslib.unet.segmentation_loss` (per-pixel
            cross-entropy) or `reslib.hourglass.heatmap_loss` (a list of heat maps per stack).
    """
    require_int("epochs", epochs, maximum=100_000, fix="an epoch of MNIST-1D takes about 0.1 s")
    require_int("batch_size", batch_size)
    require_int("seed", seed, minimum=0)
    require_bool("progress", progress)
    if isinstance(data, TensorData):
        x, y = data.x_train, data.y_train
    elif isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
    else:
        raise TypeError(
            f"data must be a reslib.data.TensorData or a pair (x, target) of tensors, got "
            f"{type(data).__name__}"
        )
    if len(x) != len(y):
        raise ValueError(f"inputs and targets need the same length, got {len(x)} and {len(y)}")
    classify = loss_fn is None
    if classify:
        _require_classifier_data(model, x, y, moves=True)  # fit moves the model to x's device
        if isinstance(data, TensorData) and int(y.max()) >= data.num_classes:
            raise ValueError(
                f"data's labels go up to {int(y.max())}, but data.num_classes is {data.num_classes}"
            )
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    model.to(x.device)
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    history = History()
    with _progress_bar(range(epochs), "epochs", progress) as bar:
        for epoch in bar:
            model.train()
            order = torch.randperm(n, generator=gen).to(x.device)
            losses, outputs = [], []  # detached, so no graph is kept; summed once per epoch
            for i in range(0, n, batch_size):
                idx = order[i : i + batch_size]
                out = model(x[idx])
                loss = loss_fn(out, y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.detach())
                if classify:
                    outputs.append(out.detach())
            sizes = torch.tensor(
                [len(idx) for idx in order.split(batch_size)], device=x.device, dtype=torch.float32
            )
            loss_sum = (torch.stack(losses) * sizes).sum()
            train_loss = loss_sum.item() / n  # the one sync per epoch
            history.train_loss.append(train_loss)
            if classify:
                wrong = (torch.cat(outputs).argmax(1) != y[order]).sum()
                history.train_error.append(wrong.item() / n)
            # a NaN gradient in the last step leaves NaN weights behind a finite loss: check both
            if not math.isfinite(train_loss) or not _finite_parameters(model):
                history.diverged_at = epoch
                break
            postfix = {"loss": f"{train_loss:.3f}"}
            if isinstance(data, TensorData):
                if classify:
                    test_loss, test_error = evaluate(model, data.x_test, data.y_test)
                    history.test_error.append(test_error)
                    postfix["test_error"] = f"{test_error:.3f}"
                else:
                    test_loss = _test_loss(model, data.x_test, data.y_test, loss_fn)
                history.test_loss.append(test_loss)
            bar.set_postfix(**postfix)
    return history
