"""Several models of one architecture run as one network: grouped matrix products, not a loop.

`reslib.train.fit` trains a list of models side by side, and `reslib.sequences.train_sequence_models`
a list of transformers. For an MLP or a `reslib.transformer` they build one network from
`grouped(models)`: a copy of the first model whose every `nn.Linear`, `nn.BatchNorm1d`,
`nn.LayerNorm` and `nn.Embedding` holds all M models' weights, stacked along a new first dimension.
Fed (M, B, ...), it computes each model's output on its own batch: one batched matrix product per
layer (`torch.baddbmm`), one normalisation per norm layer, where a loop over the models would launch
M. Any other model (a conv, a custom forward that indexes dimensions) is stacked with `torch.vmap`
instead, which handles every module but adds its own operations (`make bench` compares the two for
notebook 11's transformers, and `make bench --profile` counts their kernels per step).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from reslib import attention, mlp, paths, transformer
from reslib.guard import require_input
from reslib.validate import require_float, require_tensor, typechecked

__all__ = [
    "GroupedBatchNorm",
    "GroupedEmbedding",
    "GroupedLayerNorm",
    "GroupedLinear",
    "groupable",
    "grouped",
    "require_stack",
]


@typechecked
class GroupedLinear(nn.Module):
    """M linear maps at once: x (M, B, ..., in) -> (M, B, ..., out), one batched matrix product.

    Args:
        weight: (M, out, in), the M models' weights (the tensors themselves are used, not copies).
        bias: (M, out), or None.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        require_tensor("weight", weight, ndim=3, dtype="float", fix="(models, out_features, in_features)")
        if bias is not None:
            require_tensor("bias", bias, ndim=2, dtype="float", fix="(models, out_features)")
            if bias.shape != weight.shape[:2]:
                raise ValueError(
                    f"bias has shape {tuple(bias.shape)}, weight {tuple(weight.shape)}; bias must be "
                    f"(models, out_features) = {tuple(weight.shape[:2])}"
                )
        self.weight, self.bias = weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight  # (M, out_features, in_features)
        require_input(self, x, (3, 4), size=(-1, w.shape[2]), like=w, layout="(models, B, [T,] in_features)")
        _require_models(self, x, len(w))
        rows = x.reshape(len(w), -1, w.shape[2])  # (M, B * T, in): a view for a contiguous x
        y = torch.bmm(rows, w.mT) if self.bias is None else torch.baddbmm(self.bias.unsqueeze(1), rows, w.mT)
        return y.view(*x.shape[:-1], w.shape[1])


@typechecked
class GroupedBatchNorm(nn.Module):
    """M batch norms at once, in one `F.batch_norm` call: x (M, B, C) -> (M, B, C).

    x is normalised as (B, M * C), so each model's channels get their own batch statistics, and
    the running statistics (M, C) of each model are updated in place, as `nn.BatchNorm1d` does.

    Args:
        weight, bias: (M, C), the M models' gamma and beta.
        running_mean, running_var: (M, C); steps: (M,), the batches each model has seen.
        eps, momentum: as in `nn.BatchNorm1d` (momentum > 0: a running average, not cumulative).
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor,
        running_mean: torch.Tensor,
        running_var: torch.Tensor,
        steps: torch.Tensor,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ):
        super().__init__()
        for name, t in (
            ("weight", weight),
            ("bias", bias),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ):
            require_tensor(name, t, ndim=2, dtype="float", fix="(models, channels)")
            if t.shape != weight.shape:
                raise ValueError(
                    f"{name} has shape {tuple(t.shape)}, weight {tuple(weight.shape)}; "
                    f"give all four as (models, channels)"
                )
        require_tensor(
            "steps",
            steps,
            ndim=1,
            dtype="label",
            fix="(models,) batches seen, e.g. torch.zeros(M, dtype=torch.long)",
        )
        if len(steps) != len(weight):
            raise ValueError(f"steps has {len(steps)} entries for {len(weight)} models; give one per model")
        self.eps = require_float("eps", eps, 0.0, strict_minimum=True)
        self.momentum = require_float("momentum", momentum, 0.0, 1.0, strict_minimum=True)
        self.weight, self.bias, self.running_mean, self.running_var, self.steps = (
            weight,
            bias,
            running_mean,
            running_var,
            steps,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight  # (M, C)
        require_input(self, x, 3, size=(-1, w.shape[1]), like=w, layout="(models, B, channels)")
        _require_models(self, x, len(w))
        M, B, C = x.shape
        y = F.batch_norm(
            x.transpose(0, 1).reshape(B, M * C),  # (B, M * C): model m's channel c is column m * C + c
            self.running_mean.view(-1),  # views: F.batch_norm's in-place update reaches (M, C)
            self.running_var.view(-1),
            self.weight.reshape(-1),
            self.bias.reshape(-1),
            self.training,
            self.momentum,
            self.eps,
        )
        if self.training:
            self.steps.add_(1)
        return y.view(B, M, C).transpose(0, 1)


@typechecked
class GroupedLayerNorm(nn.Module):
    r"""M layer norms at once: x (M, ..., C) -> (M, ..., C), each model with its own gain and bias.

    One `F.layer_norm` over the last dimension (the statistics are each example's own, so models
    cannot mix), then model m's affine map, $\gamma_m \hat x + \beta_m$.

    Args:
        weight, bias: (M, C), the M models' gains and biases. eps: as in `nn.LayerNorm`.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5):
        super().__init__()
        for name, t in (("weight", weight), ("bias", bias)):
            require_tensor(name, t, ndim=2, dtype="float", fix="(models, features)")
        if bias.shape != weight.shape:
            raise ValueError(
                f"bias has shape {tuple(bias.shape)}, weight {tuple(weight.shape)}; give both as (M, C)"
            )
        self.weight, self.bias = weight, bias
        self.eps = require_float("eps", eps, 0.0, strict_minimum=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight  # (M, C)
        require_input(self, x, (3, 4), size=(-1, w.shape[1]), like=w, layout="(models, B, [T,] features)")
        _require_models(self, x, len(w))
        shape = (len(w),) + (1,) * (x.ndim - 2) + (w.shape[1],)  # (M, 1, ..., C): broadcast per model
        return torch.addcmul(self.bias.view(shape), F.layer_norm(x, w.shape[1:], eps=self.eps), w.view(shape))


@typechecked
class GroupedEmbedding(nn.Module):
    """M embedding tables at once: ids (M, ...) -> (M, ..., C), model m's rows for model m's ids.

    The tables are laid end to end, and model m's ids are shifted by m * V: one `F.embedding` call.

    Args:
        weight: (M, V, C), the M models' tables.
    """

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        require_tensor("weight", weight, ndim=3, dtype="float", fix="(models, num_embeddings, embedding_dim)")
        self.weight = weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        M, V, C = self.weight.shape
        if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.int64, torch.int32):
            got = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise TypeError(
                f"GroupedEmbedding.forward: idx must be an integer tensor of ids (models, ...), got {got}; "
                f"pass idx.long()"
            )
        if idx.ndim < 2:
            raise ValueError(
                f"GroupedEmbedding.forward: idx must be (models, ...), ids for each of the {M} models, got "
                f"shape {tuple(idx.shape)}"
            )
        _require_models(self, idx, M, "idx")
        if idx.device != self.weight.device:
            raise ValueError(
                f"GroupedEmbedding.forward: idx is on {idx.device}, the tables on {self.weight.device}; "
                f"call idx.to({str(self.weight.device)!r})"
            )
        if idx.device.type == "cpu" and idx.numel():  # an id past V would read the next model's table
            lo, hi = int(idx.min()), int(idx.max())
            if lo < 0 or hi >= V:
                raise ValueError(
                    f"GroupedEmbedding.forward: idx must hold ids in [0, {V - 1}], got values in [{lo}, {hi}]"
                )
        shift = torch.arange(M, device=idx.device).view(M, *(1,) * (idx.ndim - 1)) * V  # model m: rows m*V..
        return F.embedding(idx + shift, self.weight.view(M * V, C))


def _require_models(module: nn.Module, x: torch.Tensor, models: int, name: str = "x") -> None:
    """A grouped module's input has one slice per model in dimension 0 (ValueError)."""
    if x.shape[0] != models:
        raise ValueError(
            f"{type(module).__name__}.forward: {name} must have one row per model in dimension 0, {models} "
            f"models, got shape {tuple(x.shape)}"
        )


# Modules that pick their blocks at random in Python, per forward (stochastic depth, Veit's short paths)
_DRAWS_BLOCKS = (paths.RandomSkip, paths.ShortPathTraining)


@typechecked
def require_stack(models: Sequence[nn.Module]) -> list[nn.Module]:
    """The models to train side by side, checked: at least one, each once, one architecture.

    Raises:
        ValueError: no models; a model listed twice; models whose type, parameter or buffer names,
            shapes or dtypes differ; a model that draws its blocks in Python at every step (stacked,
            one draw would be every model's): these train one by one.
    """
    models = list(models)
    if not models:
        raise ValueError("model is an empty list; pass a model, or a list of models to train side by side")
    if len({id(m) for m in models}) != len(models):
        raise ValueError("model lists one model more than once; pass each model once (e.g. one per seed)")
    first = models[0]
    for i, m in enumerate(models[1:], 1):
        same = type(m) is type(first) and [(k, v.shape, v.dtype) for k, v in m.state_dict().items()] == [
            (k, v.shape, v.dtype) for k, v in first.state_dict().items()
        ]
        if not same:
            raise ValueError(
                f"model[{i}] is not built like model[0] (its type, parameter or buffer names and shapes "
                f"differ); models trained side by side share one architecture: train the others separately"
            )
    for i, m in enumerate(models):
        drawn = next((type(d).__name__ for d in m.modules() if isinstance(d, _DRAWS_BLOCKS)), None)
        if drawn is not None:
            raise ValueError(
                f"model[{i}] contains a {drawn}, which draws the blocks it uses in Python at every step, "
                f"so models with one cannot train side by side; train each alone: "
                f"for net, s in zip(models, seeds): fit(net, data, ..., seed=s)"
            )
    return models


# Modules whose forward acts on the last dimension only, or element by element: run on (M, B, ...)
# they compute each model's output. Anything else (a conv, a flatten, another custom forward) could
# mix models or dimensions, so it is not grouped.
_SHAPE_FREE = (
    nn.Sequential,
    nn.Identity,
    mlp.MLP,
    mlp.PlainLayer,
    mlp.ResidualBlock,
    *mlp.ACTIVATIONS.values(),
    nn.GELU,
    # written for any leading dimensions: the model's comes first (stacked inputs, reslib.transformer)
    attention.SelfAttention,
    attention.FeedForward,
    transformer.Block,
    transformer.Transformer,
)


@typechecked
def groupable(model: nn.Module) -> bool:
    """Whether `grouped` can run copies of `model`.

    Only `reslib.mlp`'s and `reslib.transformer`'s modules, `nn.Linear`, `nn.BatchNorm1d` (with affine
    parameters and a running average), `nn.LayerNorm` (affine, over the last dimension),
    `nn.Embedding` (plain lookup), activations and containers: modules that act on the last dimension
    or element-wise, or that are written for a leading model dimension.
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            if not (module.affine and module.track_running_stats and module.momentum is not None):
                return False
        elif isinstance(module, nn.LayerNorm):
            if not (
                module.elementwise_affine and module.bias is not None and len(module.normalized_shape) == 1
            ):
                return False
        elif isinstance(module, nn.Embedding):
            if module.max_norm is not None or module.padding_idx is not None or module.sparse:
                return False
        elif type(module) not in (nn.Linear, *_SHAPE_FREE):  # a subclass may override forward
            return False
    return True


@typechecked
def grouped(
    models: Sequence[nn.Module],
) -> tuple[nn.Module, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One network that runs all `models` at once on (M, B, features), and the tensors it trains.

    Returns:
        `(network, params, buffers)`: `params` maps each parameter name of the models to a new leaf
        tensor (M, ...) holding all M models' values (give these to the optimizer); `buffers` the same
        for buffers (BN's running statistics, updated in place by the network). The models passed are
        not changed: copy `params` and `buffers` back into them after training.

    Raises:
        ValueError: no models, models not `groupable`, or models whose parameters differ in name or shape.
    """
    models = list(models)
    if not models:
        raise ValueError("models is empty; pass the models to run side by side")
    if not all(groupable(m) for m in models):
        raise ValueError(
            "models must be MLPs or transformers (reslib.mlp, reslib.transformer, nn.Linear, norms, "
            "activations); stack others with torch.vmap"
        )
    shapes = [[(k, v.shape) for k, v in m.state_dict().items()] for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError("models must share one architecture (the same parameter names and shapes)")
    params = {
        name: torch.stack([m.get_parameter(name).detach() for m in models]).requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    buffers = {
        name: torch.stack([m.get_buffer(name) for m in models]) for name, _ in models[0].named_buffers()
    }
    network = copy.deepcopy(models[0])
    for name, module in list(network.named_modules()):
        prefix = f"{name}." if name else ""
        if isinstance(module, nn.Linear):
            replacement = GroupedLinear(params[prefix + "weight"], params.get(prefix + "bias"))
        elif isinstance(module, nn.BatchNorm1d):
            replacement = GroupedBatchNorm(
                *(params[prefix + k] for k in ("weight", "bias")),
                *(buffers[prefix + k] for k in ("running_mean", "running_var", "num_batches_tracked")),
                eps=module.eps,
                momentum=module.momentum,
            )
        elif isinstance(module, nn.LayerNorm):
            replacement = GroupedLayerNorm(params[prefix + "weight"], params[prefix + "bias"], module.eps)
        elif isinstance(module, nn.Embedding):
            replacement = GroupedEmbedding(params[prefix + "weight"])
        else:
            continue
        if not name:  # the model is one layer: the network is its grouped form
            return replacement, params, buffers
        parent, _, attr = name.rpartition(".")
        setattr(network.get_submodule(parent), attr, replacement)
    return network, params, buffers
