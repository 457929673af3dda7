"""Several MLPs of one architecture run as one network: grouped matrix products, not a loop.

`reslib.train.fit` trains a list of models side by side. For an MLP it builds one network from
`grouped(models)`: a copy of the first model whose every `nn.Linear` and `nn.BatchNorm1d` holds all
M models' weights, stacked along a new first dimension. Fed (M, B, features), it computes each
model's output on its own batch: one batched matrix product per layer (`torch.baddbmm`) and one
`F.batch_norm` per BN layer, where a loop over the models would launch M. Any other model (a conv,
a custom forward that indexes dimensions) is stacked with `torch.vmap` instead, which handles
every module but, for networks this small, costs about what it saves.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from reslib import mlp
from reslib.guard import require_input
from reslib.validate import require_float, require_tensor, typechecked

__all__ = ["GroupedBatchNorm", "GroupedLinear", "groupable", "grouped"]


@typechecked
class GroupedLinear(nn.Module):
    """M linear maps at once: x (M, B, in) -> (M, B, out), one batched matrix product.

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
        require_input(self, x, 3, size=(-1, w.shape[2]), like=w, layout="(models, B, in_features)")
        if x.shape[0] != w.shape[0]:
            raise ValueError(
                f"GroupedLinear.forward: x must have one row per model in dimension 0, {w.shape[0]} models, "
                f"got shape {tuple(x.shape)}"
            )
        if self.bias is None:
            return torch.bmm(x, self.weight.mT)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.mT)


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
        if x.shape[0] != w.shape[0]:
            raise ValueError(
                f"GroupedBatchNorm.forward: x must have one row per model in dimension 0, {w.shape[0]} "
                f"models, got shape {tuple(x.shape)}"
            )
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
)


@typechecked
def groupable(model: nn.Module) -> bool:
    """Whether `grouped` can run copies of `model`.

    Only `reslib.mlp`'s modules, `nn.Linear`, `nn.BatchNorm1d` (with affine parameters and a running
    average), activations and containers: modules that act on the last dimension or element-wise.
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            if not (module.affine and module.track_running_stats and module.momentum is not None):
                return False
        elif type(module) not in (nn.Linear, *_SHAPE_FREE):
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
            "models must be MLPs (reslib.mlp, nn.Linear, nn.BatchNorm1d, activations); "
            "stack others with torch.vmap"
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
        else:
            continue
        if not name:  # the model is one layer: the network is its grouped form
            return replacement, params, buffers
        parent, _, attr = name.rpartition(".")
        setattr(network.get_submodule(parent), attr, replacement)
    return network, params, buffers
