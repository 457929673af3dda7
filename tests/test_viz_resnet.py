import plotly.graph_objects as go
import pytest

import reslib as rl
from reslib import viz as V
from reslib.train import History


def _traces(explorer):
    return [(t.x, t.y) if not isinstance(t, go.Table) else t.cells.values for t in explorer.figure.data]


def test_block_cost_figure_shows_fig5_numbers():
    fig = V.block_cost_figure(rl.costs.block_costs(256, 64, 56, 3))
    params = [sum(fig.data[2 * i].y[k] for i in range(3)) for k in range(2)]
    assert params == [2 * 9 * 256 * 256, 69_632]


@pytest.mark.parametrize(
    "name, low, high", [("channels", 16, 1024), ("planes", 4, 512), ("size", 1, 112), ("kernel_size", 1, 7)]
)
def test_block_cost_explorer_moves_every_slider_to_its_ends(name, low, high):
    explorer = V.block_cost_explorer()
    for value in (low, high):
        before = _traces(explorer)
        explorer.update(**{name: value})
        assert explorer.error is None, explorer.error
        assert _traces(explorer) != before
        assert "basic/bottleneck" in explorer.status.value


def _histories():
    return {
        "plain-8": History([1.0, 0.5], [0.5, 0.3], [1.0, 0.6], [0.5, 0.4]),
        "residual-8": History([1.0, 0.4], [0.5, 0.2], [1.0, 0.5], [0.5, 0.35]),
    }


def test_resnet_explorer_switches_network_and_metric():
    explorer = V.resnet_explorer(_histories())
    assert "11,689,512 parameters" in explorer.status.value
    for network in list(V.NETWORKS)[1:]:
        before = _traces(explorer)
        explorer.update(network=network)
        assert explorer.error is None and _traces(explorer) != before
    assert "1,727,962 parameters" in explorer.status.value  # CIFAR ResNet-110, option A
    for metric in ("training loss", "test error", "training error"):
        before = _traces(explorer)
        explorer.update(metric=metric)
        assert explorer.error is None and _traces(explorer) != before


def test_curves_and_network_costs_reject_unknown_names():
    assert len(V.curves_figure(_histories(), "test error").data) == 2
    with pytest.raises(ValueError, match="metric must be one of"):
        V.curves_figure(_histories(), "accuracy")
    with pytest.raises(ValueError, match="name must be one of"):
        V.network_costs("ResNet-1000")
    with pytest.raises(TypeError, match="stride_in_1x1 must be True or False"):
        V.network_costs("ResNet-18", stride_in_1x1="yes")


def test_resnet_explorer_moves_the_stride_and_recovers_the_papers_gmacs():
    explorer = V.resnet_explorer(_histories(), "ResNet-50")
    assert "4.09 GMACs" in explorer.status.value
    explorer.update(stride="first 1x1 (He et al., v1)")
    assert explorer.error is None and "3.86 GMACs" in explorer.status.value
    assert explorer.figure.data[0].header.values[-1] == "MFLOPs (stride on 1x1, v1)"
    explorer.update(network="ResNet-18")
    assert "nothing moves" in explorer.status.value and "1.81 GMACs" in explorer.status.value
    # the table says so too, so every control changes what the plot shows (the browser test's rule)
    assert explorer.figure.data[0].header.values[-1] == "MFLOPs (basic blocks: no 1x1)"
    explorer.update(stride="3x3 (torchvision, v1.5)")
    assert explorer.figure.data[0].header.values[-1] == "MFLOPs"
    assert sum(r.flops for r in V.network_costs("ResNet-18", True)) == sum(
        r.flops for r in V.network_costs("ResNet-18")
    )


@pytest.mark.parametrize(
    "name, low, high", [("depth", 1, 80), ("shortcut_scale", 0.0, 1.5), ("branch_scale", 0.0, 1.0)]
)
def test_shortcut_explorer_moves_every_slider_to_its_ends(name, low, high):
    explorer = V.shortcut_explorer()
    assert "λ^L = 9.1e-13" in explorer.status.value
    for value in (low, high):
        before = _traces(explorer)
        explorer.update(**{name: value})
        assert explorer.error is None, explorer.error
        assert _traces(explorer) != before
        assert "the gradient at the input is" in explorer.status.value


def test_shortcut_figure_draws_measured_and_reference_per_result():
    results = [rl.preact.shortcut_gradients(5, lam, 0.0) for lam in (0.5, 1.0)]
    fig = V.shortcut_figure(results)
    assert len(fig.data) == 4 and fig.layout.yaxis.type == "log"
    assert list(fig.data[0].y) == pytest.approx(
        list(fig.data[1].y), rel=1e-5
    )  # alpha = 0: exactly lambda^(L-l)


def test_responses_figure_draws_one_trace_per_network():
    fig = V.responses_figure({"plain-8": [1.0, 1.1, 0.9], "residual-8": [0.5, 0.4, 0.6]})
    plain, residual = V.find_trace(fig, "plain-8"), V.find_trace(fig, "residual-8")
    assert list(plain.x) == [1, 2, 3] and list(residual.y) == [0.5, 0.4, 0.6]
    assert plain.line.dash == "dash" and residual.line.dash == "solid"


def test_resnet_explorer_speaks_korean_with_english_values():
    with rl.language.local_language("ko"):
        explorer = V.resnet_explorer(_histories(), "ResNet-50")
        explorer.update(stride="first 1x1 (He et al., v1)", metric="test error")
        assert explorer.error is None and "3.86 GMACs" in explorer.status.value
        assert "스트라이드" in explorer.status.value and "테스트 오차" in explorer.status.value
        assert explorer.controls["stride"].value == "first 1x1 (He et al., v1)"
        assert explorer.figure.data[0].header.values[0] == "스테이지"
    assert V.resnet_explorer(_histories()).figure.data[0].header.values[0] == "stage"
