import numpy as np
import plotly.graph_objects as go

import reslib as rl


def test_mnist1d_figure_has_one_trace_per_class(small_data):
    fig = rl.viz.mnist1d_figure(small_data)
    assert isinstance(fig, go.Figure) and len(fig.data) == 10
    assert all(len(trace.y) == 40 for trace in fig.data)


def test_degradation_figure(small_data):
    h = rl.train.History(
        train_loss=[2.0, 1.0], train_error=[0.5, 0.3], test_loss=[2.1, 1.2], test_error=[0.6, 0.4]
    )
    fig = rl.viz.training_curves_figure({"2 layers": h}, {"2 layers": (1.0, 1.2)})
    names = [t.name for t in fig.data]
    assert names == ["2 layers", "train loss", "test loss"]
    assert list(fig.data[0].y) == [2.0, 1.0] and list(fig.data[2].y) == [1.2]


def test_gradient_norms_figure_drops_zeros_from_the_log_axis():
    fig = rl.viz.gradient_norms_figure({"sigmoid": [0.0, 1e-3, 1.0]})
    assert np.isnan(fig.data[0].y[0]) and fig.data[0].y[2] == 1.0
    assert fig.layout.yaxis.type == "log"


def test_gradient_flow_figure_shows_a_result(batch):
    x, y = batch
    result = rl.gradients.gradient_flow(1, "relu", x, y)
    fig = rl.viz.gradient_flow_figure(result)
    assert len(fig.data) == 5 and len(fig.data[0].y) == 2 and list(fig.data[4].x) == []
    # depth 1: first, middle and last layer are the same, so one histogram is shown
    assert [t.visible for t in fig.data[1:4]] == [True, False, False]
    assert list(fig.data[1].name) and fig.data[1].name == "layer 1"


def test_gradient_flow_figure_marks_frozen_layers(batch):
    x, y = batch
    result = rl.gradients.gradient_flow(30, "sigmoid", x, y)
    fig = rl.viz.gradient_flow_figure(result)
    frozen = [i + 1 for i, f in enumerate(result.frozen) if f]
    assert frozen and list(fig.data[4].x) == frozen
