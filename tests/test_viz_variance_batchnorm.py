import numpy as np
import plotly.graph_objects as go
import pytest

import reslib as rl
from reslib import viz


def trace_data(fig):
    return [(tuple(t.x or ()), tuple(t.y or ())) for t in fig.data]


def assert_plain(fig):
    assert not any(isinstance(v, np.ndarray) for t in fig.data for v in (t.x, t.y))


@pytest.fixture(scope="module")
def variance():
    return viz.variance_explorer()


@pytest.fixture(scope="module")
def running():
    return viz.running_stats_explorer()


VARIANCE_MOVES = [
    ("depth", 100, 1),
    ("depth", 100, 200),
    ("init", "He", "Glorot"),
    ("init", "Glorot", "He"),
    ("multiplier", 1.0, 0.25),
    ("multiplier", 1.0, 4.0),
    ("scaling", "none", "1/√2"),
    ("scaling", "1/√2", "none"),
    ("batch_norm", False, True),
    ("batch_norm", True, False),
]


@pytest.mark.parametrize("name, start, value", VARIANCE_MOVES)
def test_variance_explorer_every_control_changes_the_plot(variance, name, start, value):
    variance.update(depth=100, init="He", multiplier=1.0, scaling="none", batch_norm=False)
    variance.update(**{name: start})
    before = trace_data(variance.figure)
    variance.update(**{name: value})
    assert variance.error is None and trace_data(variance.figure) != before
    assert_plain(variance.figure)


def test_variance_explorer_reports_overflow_instead_of_failing(variance):
    variance.update(depth=200, init="He", multiplier=4.0, scaling="none", batch_norm=False)
    assert variance.error is None
    assert "overflowed float32" in variance.status.value and "at block" in variance.status.value
    assert variance.figure.data[3].x  # the overflow marker is drawn


RUNNING_MOVES = [
    ("batch_size", 2),
    ("batch_size", 256),
    ("momentum", 0.01),
    ("momentum", 1.0),
    ("gamma", -2.0),
    ("gamma", 3.0),
    ("beta", -3.0),
    ("beta", 3.0),
]


@pytest.mark.parametrize("name, value", RUNNING_MOVES)
def test_running_stats_explorer_every_control_changes_the_plot(running, name, value):
    running.update(batch_size=16, momentum=0.1, gamma=1.0, beta=0.0)
    before = trace_data(running.figure)
    running.update(**{name: value})
    assert running.error is None and trace_data(running.figure) != before
    assert_plain(running.figure)


def test_static_figures():
    r = rl.variance.forward_backward_profile(10)
    fig = viz.profile_figure(r)
    assert isinstance(fig, go.Figure) and len(fig.data[0].y) == 11
    fig = viz.variance_figure({"a": [1, 2, 4], "b": [1, 0, 1]})
    assert fig.data[1].y[1] is None and fig.layout.yaxis.type == "log"
    fig = viz.branch_share_figure({"BN": [float("nan"), 0.5, 0.33], "He": [float("nan"), 0.5, 0.5]})
    assert len(fig.data) == 3 and fig.data[0].x == (1, 2) and fig.data[2].name == "1/(k+1)"
    fig = viz.lr_sweep_figure([0.1, 1.0], {"plain": [0.5, float("nan")], "BN": [0.4, 0.3]})
    assert len(fig.data) == 3 and fig.data[1].x == (1.0,)
    fig = viz.running_stats_figure(rl.batchnorm.running_stats_trace(8, 0.1, steps=10))
    assert len(fig.data[0].y) == 10 and abs(sum(fig.data[5].y) - 1) < 1e-9


def test_running_stats_explorer_speaks_korean():
    with rl.language.local_language("ko"):
        explorer = viz.running_stats_explorer(steps=10)
        explorer.update(batch_size=32)
        assert explorer.error is None and "10 스텝 후" in explorer.status.value
        assert viz.find_trace(explorer.figure, "running mean").name == "이동 평균"
