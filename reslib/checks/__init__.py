"""Instant feedback for the notebooks' exercises: `core` holds the protocol, one module per topic.

Every `check_*` is re-exported here, so a notebook calls `rl.checks.check_lesion(...)`.
"""

from __future__ import annotations

from reslib.checks.batchnorm import (
    check_batch_norm_backward,
    check_batch_norm_forward,
    check_bn_residual_block,
    check_fold_into_conv,
)
from reslib.checks.core import (
    CheckResult,
    compare,
    tiered_hint,
)
from reslib.checks.densenet import (
    check_dense_block_channels,
    check_transition_parameters,
)
from reslib.checks.hourglass import (
    check_heatmap_argmax,
)
from reslib.checks.landscape import (
    check_filter_normalization,
    check_width_for_budget,
    filter_normalization_reference,
)
from reslib.checks.normfree import (
    check_rezero_block,
    rezero_block_reference,
)
from reslib.checks.paths import (
    check_count_paths,
    check_lesion,
    check_path_gradient,
)
from reslib.checks.resnet import (
    check_bottleneck_parameters,
    check_cifar_parameter_count,
    check_conv_parameters,
    check_pad_shortcut,
    check_stage_shapes,
)
from reslib.checks.sequential import (
    chain_gradient_reference,
    check_chain_gradient,
    check_compose,
    check_mlp_parameter_count,
    check_residual_forward,
)
from reslib.checks.shattering import (
    check_autocorrelation,
)
from reslib.checks.transformer import (
    check_logit_lens,
    check_pre_ln_block,
    check_which_fails,
    logit_lens_reference,
    pre_ln_block_reference,
    which_fails_reference,
)
from reslib.checks.unet import (
    check_binary_iou,
    check_edge_band,
    check_unet_output_size,
)
from reslib.checks.variance import (
    check_second_moment_recursion,
    second_moment_reference,
)

__all__ = [
    "CheckResult",
    "chain_gradient_reference",
    "check_autocorrelation",
    "check_batch_norm_backward",
    "check_batch_norm_forward",
    "check_binary_iou",
    "check_bn_residual_block",
    "check_edge_band",
    "check_filter_normalization",
    "check_bottleneck_parameters",
    "check_chain_gradient",
    "check_cifar_parameter_count",
    "check_compose",
    "check_conv_parameters",
    "check_count_paths",
    "check_dense_block_channels",
    "check_fold_into_conv",
    "check_heatmap_argmax",
    "check_lesion",
    "check_logit_lens",
    "check_mlp_parameter_count",
    "check_pad_shortcut",
    "check_path_gradient",
    "check_pre_ln_block",
    "check_residual_forward",
    "check_rezero_block",
    "check_second_moment_recursion",
    "check_stage_shapes",
    "check_transition_parameters",
    "check_unet_output_size",
    "check_which_fails",
    "check_width_for_budget",
    "compare",
    "filter_normalization_reference",
    "logit_lens_reference",
    "pre_ln_block_reference",
    "rezero_block_reference",
    "tiered_hint",
    "second_moment_reference",
    "which_fails_reference",
]
