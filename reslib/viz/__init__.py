"""Figures and live explorers, one module per topic, on one `Explorer` base.

Each topic module holds pure figure builders (results -> `go.Figure`) and thin explorer wiring;
the compute they show lives in the topic modules of `reslib`. Every public name is re-exported
here, so a notebook reaches any figure or explorer in one hop: `rl.viz.variance_explorer()`.
"""

from __future__ import annotations

from reslib.viz.batchnorm import (
    lr_sweep_figure,
    running_stats_explorer,
    running_stats_figure,
    update_running_stats_figure,
)
from reslib.viz.data import (
    mnist1d_figure,
)
from reslib.viz.densenet import (
    channel_figure,
    densenet_explorer,
)
from reslib.viz.explorer import (
    LAYOUT,
    Explorer,
    image_grid,
    image_trace,
    plain_list,
)
from reslib.viz.gradients import (
    COLORS,
    gradient_explorer,
    gradient_flow_figure,
    gradient_norms_figure,
    update_gradient_flow_figure,
)
from reslib.viz.hourglass import (
    heatmap_figure,
    hourglass_explorer,
)
from reslib.viz.landscape import (
    landscape_explorer,
    landscape_figure,
    slice_1d_figure,
    update_landscape_figure,
    width_depth_figure,
)
from reslib.viz.normfree import (
    euler_explorer,
    euler_figure,
    scheme_explorer,
    scheme_figure,
    update_euler_figure,
    update_scheme_figure,
)
from reslib.viz.paths import (
    lesion_explorer,
    lesion_figure,
    path_explorer,
    paths_figure,
)
from reslib.viz.resnet import (
    NETWORKS,
    STRIDES,
    block_cost_explorer,
    block_cost_figure,
    network_costs,
    resnet_explorer,
    resnet_figure,
    shortcut_explorer,
    shortcut_figure,
    update_block_cost_figure,
    update_resnet_figure,
    update_shortcut_figure,
)
from reslib.viz.shattering import (
    lag1_figure,
    shattering_explorer,
    shattering_figure,
)
from reslib.viz.static import (
    static_explorer,
)
from reslib.viz.training import (
    METRICS,
    bar_figure,
    curves_figure,
    training_curves_figure,
)
from reslib.viz.transformer import (
    lens_explorer,
    lens_figure,
    placement_explorer,
    placement_figure,
    update_lens_figure,
    update_placement_figure,
)
from reslib.viz.unet import (
    segmentation_figure,
    unet_trace_explorer,
    unet_trace_figure,
)
from reslib.viz.variance import (
    branch_share_figure,
    profile_figure,
    update_profile_figure,
    variance_explorer,
    variance_figure,
)

__all__ = [
    "COLORS",
    "Explorer",
    "LAYOUT",
    "METRICS",
    "NETWORKS",
    "STRIDES",
    "bar_figure",
    "branch_share_figure",
    "block_cost_explorer",
    "block_cost_figure",
    "channel_figure",
    "curves_figure",
    "densenet_explorer",
    "euler_explorer",
    "euler_figure",
    "gradient_explorer",
    "gradient_flow_figure",
    "gradient_norms_figure",
    "heatmap_figure",
    "hourglass_explorer",
    "image_grid",
    "image_trace",
    "lag1_figure",
    "landscape_explorer",
    "landscape_figure",
    "lens_explorer",
    "lens_figure",
    "lesion_explorer",
    "lesion_figure",
    "lr_sweep_figure",
    "mnist1d_figure",
    "network_costs",
    "path_explorer",
    "paths_figure",
    "placement_explorer",
    "placement_figure",
    "plain_list",
    "profile_figure",
    "resnet_explorer",
    "resnet_figure",
    "running_stats_explorer",
    "running_stats_figure",
    "scheme_explorer",
    "scheme_figure",
    "segmentation_figure",
    "shattering_explorer",
    "shattering_figure",
    "shortcut_explorer",
    "shortcut_figure",
    "slice_1d_figure",
    "static_explorer",
    "training_curves_figure",
    "unet_trace_explorer",
    "unet_trace_figure",
    "update_block_cost_figure",
    "update_euler_figure",
    "update_gradient_flow_figure",
    "update_landscape_figure",
    "update_lens_figure",
    "update_placement_figure",
    "update_profile_figure",
    "update_resnet_figure",
    "update_running_stats_figure",
    "update_scheme_figure",
    "update_shortcut_figure",
    "variance_explorer",
    "variance_figure",
    "width_depth_figure",
]
