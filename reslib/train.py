"""One small, fast training loop on in-memory tensors: classifiers, segmenters, heat-map predictors.

`fit` minimises cross-entropy by default; pass `loss_fn` for other tasks (for example
`reslib.unet.segmentation_loss` or `reslib.hourglass.heatmap_loss`).

`fit` also trains a list of models of one architecture at once (one per seed, say), stacked: MLPs
and transformers as grouped products (`_Grouped`), others through `stack_module_state` and `vmap`
(`_Stacked`; on one CPU thread those train one after the other, which is faster there): one kernel
per operation for all of them; each follows the path it would alone.

No DataLoader: the data sits on the device, so a mini-batch is one indexing operation. Per-batch
losses are kept on the device and reduced once per epoch: one host sync per epoch for training,
one for the test set.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F
from tqdm.auto import tqdm

from reslib import stacking
from reslib.data import TensorData, require_clean
from reslib.guard import require_work
from reslib.runtime import in_worker, step_flops, stop_requested, threads
from reslib.validate import (
    require_batch,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_seed,
    require_type,
    typechecked,
)

__all__ = ["History", "LossFn", "evaluate", "fit", "make_optimizer"]

# (model output, target) -> a scalar loss, the mean over the batch
LossFn = Callable[[torch.Tensor | list[torch.Tensor], torch.Tensor], torch.Tensor]


# A view whose widget is gone: an empty model_id, which JupyterLab hides (ipywidgets' convention).
_REMOVED_VIEW = {
    "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": ""},
    "text/plain": "",
}


@contextlib.contextmanager
def _progress_bar(steps: Iterable, desc: str, enabled: bool) -> Iterator[tqdm]:
    """A tqdm bar over `steps` that leaves no trace once it is done.

    tqdm's closed widget bar leaves an output naming a gone widget ("Error displaying widget" in a
    saved copy), so the bar is shown under a display id that becomes an empty view once closed.
    A bar stopped by an error stays (red, where it stopped), as tqdm leaves it.
    """
    from IPython.display import display
    from tqdm.notebook import tqdm_notebook

    notebook = enabled and issubclass(tqdm, tqdm_notebook)  # tqdm.auto picked its widget bar: a kernel
    bar = tqdm(steps, desc=desc, disable=not enabled, leave=False, **({"display": False} if notebook else {}))
    handle = display(bar.container, display_id=True) if notebook else None
    try:
        yield bar
    finally:
        bar.close()
        if handle is not None and getattr(bar.container, "comm", None) is None:  # closed by tqdm
            handle.update(_REMOVED_VIEW, raw=True)


@dataclass
class History:
    """Per-epoch curves from `fit`.

    `train_loss` / `train_error` average the mini-batches of each epoch (as the weights change);
    `test_loss` / `test_error` are measured after each epoch in eval mode. `diverged_at` is the
    epoch whose loss or weights became inf or NaN. Error rates are kept for classifiers (the default
    loss) only, test curves only when `fit` was given a `TensorData`; else those lists stay empty.
    """

    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    def __post_init__(self) -> None:
        for name in ("train_loss", "train_error", "test_loss", "test_error"):
            if not isinstance(require_type(f"History: {name}", getattr(self, name), list[float]), list):
                raise TypeError(
                    f"History: {name} must be a list of numbers, got {type(getattr(self, name)).__name__}"
                )
        epochs, tested = len(self.train_loss), len(self.test_loss)
        for name, size, of in (("train_error", epochs, "train_loss"), ("test_error", tested, "test_loss")):
            if len(getattr(self, name)) not in (0, size):
                raise ValueError(
                    f"History: {name} has {len(getattr(self, name))} values, {of} {size}; "
                    "give one per epoch (or none)"
                )
        if tested > epochs:
            raise ValueError(f"History: test_loss has {tested} values, more than train_loss's {epochs}")
        if self.diverged_at is not None:
            require_int("History: diverged_at", self.diverged_at, minimum=0, maximum=max(epochs - 1, 0))

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _require_classifier_data(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, moves: bool = False, names: tuple = ("x", "y")
) -> None:
    """Inputs of the model's dtype (and device, unless the caller `moves` the model); no values read."""
    require_batch(x, y, *names)
    weight = next(model.parameters(), None)
    if weight is not None and weight.dtype != x.dtype:
        raise TypeError(
            f"{names[0]} holds {x.dtype}, the model's weights {weight.dtype}; use x.to({weight.dtype})"
        )
    if weight is not None and not moves and weight.device != x.device:
        raise ValueError(
            f"{names[0]} is on {x.device} but the model on {weight.device}; use model.to(x.device)"
        )
    if y.device != x.device:
        raise ValueError(f"{names[0]} is on {x.device} but {names[1]} on {y.device}; put both on one device")


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
    names = ("x", "y")
    if isinstance(x, TensorData):
        x, y, names = x.x_test, x.y_test, ("x.x_test", "x.y_test")
    if y is None:
        raise ValueError("evaluate needs labels y, or a TensorData as x")
    _require_classifier_data(model, x, y, names=names)
    top = require_clean(dict(zip(names, (x, y), strict=True)), labels=names[1:])  # NaN in, NaN out no more
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    wrong = torch.zeros((), device=x.device)
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        if i == 0 and (logits.ndim != 2 or logits.shape[1] <= top):
            model.train(was_training)
            raise ValueError(
                f"{names[1]} holds class indices up to {top}, but the model's output has shape "
                f"{tuple(logits.shape)}; a classifier returns logits (N, classes), classes > {top}"
            )
        loss_sum += F.cross_entropy(logits, y[i : i + batch_size], reduction="sum")
        wrong += (logits.argmax(1) != y[i : i + batch_size]).sum()
    model.train(was_training)
    loss_sum, wrong = torch.stack([loss_sum, wrong]).tolist()
    loss = loss_sum / len(x)
    return loss, math.nan if math.isnan(loss) else wrong / len(x)  # NaN weights score no error rate


@typechecked
def make_optimizer(
    model: nn.Module, name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """`"sgd"` (with momentum) or `"adam"` over all of `model`'s parameters."""
    return _optimizer(model.parameters(), name, lr, momentum, weight_decay)


def _optimizer(
    params: Iterable[torch.Tensor], name: str, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    """SGD or Adam, fused where PyTorch has a kernel for these parameters (10-30 % faster per step)."""
    require_float("lr", lr, 0.0, strict_minimum=True)
    require_float("momentum", momentum, 0.0)
    require_float("weight_decay", weight_decay, 0.0)
    require_choice("optimizer name", name, ("sgd", "adam"))
    params = list(params)
    kind, options = (
        (torch.optim.SGD, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        if name == "sgd"
        else (torch.optim.Adam, dict(lr=lr, weight_decay=weight_decay))
    )
    fusable = params and all(
        p.is_floating_point() and p.device.type in ("cpu", "cuda", "mps") for p in params
    )
    if fusable:
        try:
            opt = kind(params, fused=True, **options)
        except (RuntimeError, ValueError):  # a dtype or device this PyTorch has no fused kernel for
            return kind(params, **options)
        if name == "sgd" and momentum:
            # Fused SGD fails on a parameter whose momentum buffer was never made (one that had no
            # gradient at the first step, as a branch skipped by stochastic depth). A zero buffer
            # gives the same first update, m * 0 + g = g, as the buffer SGD would make from g.
            for p in params:
                opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
        return opt
    return kind(params, **options)


class _Single:
    """One model, trained as itself: what every `fit(model, ...)` call ran before stacking existed."""

    count = 1

    def __init__(self, model: nn.Module):
        self.model = model

    def parameters(self) -> list[torch.Tensor]:
        return list(self.model.parameters())

    def train(self, mode: bool) -> None:
        self.model.train(mode)

    def __call__(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # x: (1, B, ...)
        out = self.model(x[0])
        return [o.unsqueeze(0) for o in out] if isinstance(out, list) else out.unsqueeze(0)

    def shared(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # x: (B, ...), one input for all
        return self(x.unsqueeze(0))

    def losses(
        self, loss_fn: LossFn, out: torch.Tensor | list[torch.Tensor], y: torch.Tensor
    ) -> torch.Tensor:
        first = [o[0] for o in out] if isinstance(out, list) else out[0]
        return loss_fn(first, y[0]).unsqueeze(0)  # (1,)

    def summed_cross_entropy(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out[0], y, reduction="sum").unsqueeze(0)  # (1,)

    def finite(self) -> torch.Tensor:
        """(1,) whether every parameter and buffer is finite, on the device (no sync)."""
        return _finite(list(self.model.parameters()) + list(self.model.buffers()), 1)

    def write_back(self) -> None:
        pass


class _Stacked:
    """Models of one architecture run as one: weights stacked (`stack_module_state`), `forward` vmapped."""

    def __init__(self, models: list[nn.Module]):
        self.models = models
        self.count = len(models)
        self.params, self.buffers = stack_module_state(models)  # name -> (M, ...); params are leaves
        self.base = copy.deepcopy(models[0]).to("meta")  # the architecture, holding no numbers

        def one(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (params, buffers), (x,))

        # Random layers (dropout) draw different numbers for each model.
        self.each = vmap(one, randomness="different")
        self.all = vmap(one, in_dims=(0, 0, None), randomness="different")

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def train(self, mode: bool) -> None:
        self.base.train(mode)

    def __call__(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # x: (M, B, ...)
        return self.each(self.params, self.buffers, x)

    def shared(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # x: (B, ...), one input for all
        return self.all(self.params, self.buffers, x)

    def losses(
        self, loss_fn: LossFn, out: torch.Tensor | list[torch.Tensor], y: torch.Tensor
    ) -> torch.Tensor:
        return vmap(loss_fn)(out, y)  # (M,) model i's loss on its own batch

    def summed_cross_entropy(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return vmap(lambda o: F.cross_entropy(o, y, reduction="sum"))(out)  # (M,)

    def finite(self) -> torch.Tensor:
        """(M,) whether each model's parameters and buffers are all finite (no sync)."""
        return _finite([*self.params.values(), *self.buffers.values()], self.count)

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy the trained weights and statistics into the models the caller passed."""
        for i, model in enumerate(self.models):
            for name, value in self.params.items():
                model.get_parameter(name).copy_(value[i])
            for name, value in self.buffers.items():
                model.get_buffer(name).copy_(value[i])


class _Grouped(_Stacked):
    """Stacked MLPs or transformers as grouped products (`stacking.grouped`): ~1.5x vmap's steps/s."""

    def __init__(self, models: list[nn.Module]):
        self.models, self.count = models, len(models)
        self.base, self.params, self.buffers = stacking.grouped(models)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # x: (M, B, ...)
        return self.base(x)

    def shared(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, ...), one input for all
        return self.base(x.expand(self.count, *x.shape))


def _finite(tensors: list[torch.Tensor], count: int) -> torch.Tensor:
    """(count,) whether each model's floating-point tensors are all finite (no sync).

    `tensors` hold one model (`count` 1) or a stack of `count` models along their first dimension.
    """
    tensors = [t.detach().reshape(count, -1) for t in tensors if t.is_floating_point()]
    if not tensors:
        return torch.ones(count, dtype=torch.bool)
    return torch.stack([t.isfinite().all(1) for t in tensors]).all(0)


@typechecked
def fit(
    model: nn.Module | Sequence[nn.Module],
    data: TensorData | tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    lr: float,
    batch_size: int = 100,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int | Sequence[int] = 0,
    progress: bool = True,
    loss_fn: LossFn | None = None,
) -> History | list[History]:
    """Train `model` on `data` for `epochs` passes, minimising `loss_fn`; return the curves.

    The model is moved to the data's device. Each epoch visits the training set
    in an order drawn from `seed` (a local `torch.Generator`), so the same call gives
    the same curves. Training stops early, with `History.diverged_at` set, if the loss
    or any weight stops being finite.

    Several models of one architecture (one per seed, say) train stacked when `model` is a list:
    one pass per step for all, each model with its own batch order (`seed`) and optimizer state:
    the updates it would get alone, by batched kernels that round differently. A model that
    diverges stops being recorded; the trained weights are written back into the models passed.
    Models `reslib.stacking.grouped` cannot run (convolutions) on a CPU on one thread train one after
    the other instead, each as `fit` trains it alone: faster there (`_vmap_pays`).
    Returns one `History` per model, in order. A run estimated past `reslib.guard.WORK_LIMIT`
    (`epochs=10**5` for 10**3) is refused before it starts.

    Args:
        model: a classifier returning logits (N, classes), or any model `loss_fn` understands;
            or a list of such models sharing one architecture (parameter names and shapes).
        data: a `TensorData` (train and test split, e.g. `reslib.data.mnist1d()`), or a pair
            `(x, target)` of training tensors (then no test curves are measured).
        epochs: passes over the training set, >= 1.
        lr: learning rate.
        batch_size: examples per step (per model).
        optimizer: `"sgd"` (with `momentum`) or `"adam"`.
        momentum: SGD's momentum.
        weight_decay: L2 penalty, passed to the optimizer.
        seed: seed of the shuffling order; for a list of models, one int for all or one per model.
        progress: show a tqdm progress bar while training (in a notebook, removed once done).
        loss_fn: `(output, target) -> mean loss`; None: cross-entropy on logits, with error rates.
            E.g. `reslib.unet.segmentation_loss` or `reslib.hourglass.heatmap_loss` (per stack).
    """
    require_int("epochs", epochs, maximum=100_000, fix="an epoch of MNIST-1D takes about 0.1 s")
    require_int("batch_size", batch_size)
    require_bool("progress", progress)
    single = isinstance(model, nn.Module)
    models = [model] if single else stacking.require_stack(model)
    seeds = _require_seeds(seed, len(models), single)
    names = ("data.x_train", "data.y_train") if isinstance(data, TensorData) else ("data[0]", "data[1]")
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
        for m in models:
            _require_classifier_data(m, x, y, moves=True, names=names)  # fit moves the model to x's device
    tensors = dict(zip(names, (x, y), strict=True))
    if isinstance(data, TensorData):
        tensors.update({"data.x_test": data.x_test, "data.y_test": data.y_test})
    classes = data.num_classes if isinstance(data, TensorData) else None
    labels = tuple(n for n in (names[1], "data.y_test") if n in tensors) if classify else ()
    top = require_clean(tensors, labels, classes)  # one read: NaN data never trains into numbers
    given, loss_fn = loss_fn, F.cross_entropy if loss_fn is None else loss_fn
    tested = len(data.x_test) if isinstance(data, TensorData) else 0
    _require_time(models[0], x, tested, epochs, batch_size, len(models))
    for m in models:
        m.to(x.device)
    if not single and not stacking.groupable(models[0]) and not _vmap_pays(x.device):
        return [  # one after the other: the updates each gets in the stack, without vmap's cost here
            fit(m, data, epochs, lr, batch_size, optimizer, momentum, weight_decay, s, progress, given)
            for m, s in zip(models, seeds, strict=True)
        ]
    runner = (
        _Single(model) if single else _Grouped(models) if stacking.groupable(models[0]) else _Stacked(models)
    )
    try:
        histories = _train(
            runner,
            data,
            x,
            y,
            epochs,
            batch_size,
            seeds,
            progress,
            loss_fn,
            top + 1 if classify else 0,
            _optimizer(runner.parameters(), optimizer, lr, momentum, weight_decay),
        )
    finally:
        runner.write_back()  # also after an interrupt: the models hold what was trained so far
    return histories[0] if single else histories


def _vmap_pays(device: torch.device) -> bool:
    # Whether a stack `stacking.grouped` cannot run goes through vmap, else one by one: not on one CPU thread
    # (runtime.parallel, Binder), where 2-3 of notebook 07's ResNets or 09's U-Nets took 1.07-1.35x the time
    # of a loop (vmap groups their convolutions); on two threads 0.83-1.19x; on a GPU it launches less.
    return device.type != "cpu" or threads() > 1


def _require_time(
    model: nn.Module, x: torch.Tensor, tested: int, epochs: int, batch_size: int, count: int
) -> None:
    """Refuse, before the first step, a run that would take past `reslib.guard.WORK_LIMIT`.

    Operations: per step ~20, 2 per module, 1 per parameter (1.5x stacked); per epoch ~100 and the
    test pass. FLOPs: 6 per weight, example and position it is reused at (exact for MLPs; for conv
    nets an upper bound, else `step_flops`), at a quarter: training ran at ~20 GFLOP/s on a core here.
    On an accelerator only operations count. Measured (one thread): 2000 epochs of a 2-block MLP on
    12 examples 1.9-2.8 s (estimated 3.2 s); 3 stacked 12-block MLPs, 3 epochs of MNIST-1D 0.6-1.0 s
    (0.9 s); notebook 09's U-Nets 2.2 s an epoch (2.3 s), its hourglass 1.4 s an epoch (0.55 s).
    """
    modules = sum(1 for m in model.modules() if next(m.children(), None) is None)
    per_step = (20 + 2 * modules + len(list(model.parameters()))) * (1.5 if count > 1 else 1)
    operations = epochs * (-(-len(x) // batch_size) * per_step + 100 + 2 * modules * -(-tested // 1000))
    given = dict(epochs=epochs, batch_size=batch_size, **({"models": count} if count > 1 else {}))
    positions = x[0].numel() // x.shape[1] if x.ndim > 2 else 1
    examples = epochs * count * (3 * len(x) + tested) * (x.device.type == "cpu")  # backward: 2 forward
    forward = 2 * sum(p.numel() for p in model.parameters()) * positions  # FLOPs per example
    try:
        require_work(given, flops=examples * forward / 4, operations=operations)
    except ValueError as too_long:
        try:  # count a conv net's FLOPs on the meta device (~50 ms)
            batch = x[: min(batch_size, len(x))]
            forward = step_flops(model, batch) / 3 / len(batch) if positions > 1 else forward
        except ValueError:  # a model the meta device cannot run: the bound stands
            raise too_long from None
        require_work(given, flops=examples * forward / 4, operations=operations)


def _require_seeds(seed: int | Sequence[int], count: int, single: bool) -> list[int]:
    if isinstance(seed, int):
        return [require_seed("seed", seed)] * count
    if single:
        raise TypeError(f"seed must be an int for one model, got {type(seed).__name__}")
    seeds = [require_seed(f"seed[{i}]", s) for i, s in enumerate(seed)]
    if len(seeds) != count:
        raise ValueError(f"seed lists {len(seeds)} seeds for {count} models; give one per model, or one int")
    return seeds


def _train(
    runner: _Single | _Stacked,
    data: TensorData | tuple[torch.Tensor, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch_size: int,
    seeds: list[int],
    progress: bool,
    loss_fn: LossFn,
    classes: int,
    opt: torch.optim.Optimizer,
) -> list[History]:
    """The loop of `fit`, for one model or a stack: every quantity carries a leading model dimension.

    `classes`: for a classifier, how many classes its labels need (its logits' last size), else 0.
    """
    classify = classes > 0
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    n, count = len(x), runner.count
    histories = [History() for _ in range(count)]
    alive = list(range(count))  # the models not diverged yet
    sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
    sizes = torch.tensor(sizes, device=x.device, dtype=torch.float32)  # (steps,) examples per step
    with _progress_bar(range(epochs), "epochs", progress and not in_worker()) as bar:  # threads: no bar
        for epoch in bar:
            runner.train(True)
            order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(x.device)  # (M, n)
            losses, outputs = [], []  # on the device until the epoch ends
            for i in range(0, n, batch_size):
                if stop_requested():  # interrupted while training in a thread of runtime.parallel
                    raise KeyboardInterrupt
                idx = order[:, i : i + batch_size]  # (M, B)
                out = runner(x[idx])
                if classify and i == 0 and (out.ndim != 3 or out.shape[-1] < classes):  # shapes only
                    raise ValueError(
                        f"data's labels go up to {classes - 1}, but the model's output has shape "
                        f"{tuple(out.shape[1:])}; a classifier returns logits (N, classes >= {classes})"
                    )
                loss = runner.losses(loss_fn, out, y[idx])  # (M,)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()  # model i's weights get loss i's gradient only
                opt.step()
                losses.append(loss.detach())
                if classify:
                    outputs.append(out.detach())
            train_loss = (torch.stack(losses) * sizes[:, None]).sum(0) / n  # (M,)
            wrong = (torch.cat(outputs, 1).argmax(-1) != y[order]).sum(-1) if classify else 0 * train_loss
            # a NaN gradient in the last step leaves NaN weights behind a finite loss: check both
            finite = runner.finite().to(x.device) & train_loss.isfinite()
            loss_list, error_list, finite_list = torch.stack([train_loss, wrong / n, finite]).tolist()  # sync
            for m in list(alive):
                histories[m].train_loss.append(loss_list[m])
                if classify:
                    histories[m].train_error.append(error_list[m])
                if not finite_list[m]:
                    histories[m].diverged_at = epoch
                    alive.remove(m)
            if not alive:
                break
            postfix = {"loss": f"{sum(loss_list[m] for m in alive) / len(alive):.3f}"}
            if isinstance(data, TensorData):
                test_loss, test_error = _test_curves(runner, data.x_test, data.y_test, loss_fn, classify)
                for m in list(alive):
                    histories[m].test_loss.append(test_loss[m])
                    if classify:
                        histories[m].test_error.append(
                            test_error[m] if test_loss[m] == test_loss[m] else math.nan
                        )
                    if not math.isfinite(test_loss[m]):  # finite weights, yet NaN or inf on the test set
                        histories[m].diverged_at = epoch
                        alive.remove(m)
                if not alive:
                    break
                if classify:
                    postfix["test_error"] = f"{sum(test_error[m] for m in alive) / len(alive):.3f}"
            bar.set_postfix(**postfix)
    return histories


@torch.no_grad()
def _test_curves(
    runner: _Single | _Stacked,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: LossFn,
    classify: bool,
    batch_size: int = 1000,
) -> tuple[list[float], list[float]]:
    """Each model's mean test loss and error rate, in eval mode (one sync)."""
    runner.train(False)
    loss_sum = torch.zeros(runner.count, device=x.device)
    wrong = torch.zeros(runner.count, device=x.device)
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        out = runner.shared(xb)  # (M, B, ...)
        if classify:
            loss_sum += runner.summed_cross_entropy(out, yb)
            wrong += (out.argmax(-1) != yb).sum(-1)
        else:
            targets = yb.expand(runner.count, *yb.shape)
            loss_sum += runner.losses(loss_fn, out, targets) * len(xb)
    runner.train(True)
    loss, error = torch.stack([loss_sum / len(x), wrong / len(x)]).tolist()
    return loss, error
