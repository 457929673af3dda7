import numpy as np
import plotly.graph_objects as go
import pytest

import reslib as rl


def _data(explorer):
    return [list(t.y) if t.y is not None else None for t in explorer.figure.data]


def _plain_lists(explorer):
    return not any(isinstance(v, np.ndarray) for t in explorer.figure.data for v in (t.x, t.y))


@pytest.fixture(scope="module")
def shattering():
    return rl.viz.shattering_explorer(max_depth=50, width=50, n_inputs=64)


@pytest.mark.parametrize(
    "values",
    [
        dict(depth=1),
        dict(depth=50),
        dict(architecture="residual"),
        dict(architecture="feed-forward"),
        dict(batch_norm=False),
        dict(batch_norm=True),
    ],
)
def test_shattering_explorer_controls_change_the_plot(shattering, values):
    shattering.update(
        depth=25,
        architecture="residual"
        if "architecture" not in values
        else ("feed-forward" if values["architecture"] == "residual" else "residual"),
        batch_norm=not values.get("batch_norm", True),
    )
    before = _data(shattering)
    shattering.update(**values)
    assert shattering.error is None and _plain_lists(shattering)
    assert _data(shattering) != before
    assert "lag-1 autocorrelation" in shattering.status.value


def test_shattering_explorer_shows_the_regimes(shattering):
    shattering.update(depth=1, architecture="feed-forward", batch_norm=True)
    assert shattering.figure.data[1].y[1] > 0.9
    shattering.update(depth=50)
    assert abs(shattering.figure.data[1].y[1]) < 0.5


@pytest.mark.parametrize("n_inputs", [2, 16, 41])
def test_shattering_explorer_draws_fewer_inputs_than_its_40_lags(n_inputs):
    # the autocorrelation keeps the lags the inputs have (n_inputs - 1 of them, at most 40)
    explorer = rl.viz.shattering_explorer(max_depth=3, width=8, n_inputs=n_inputs)
    assert explorer.error is None, explorer.error
    lags = min(40, n_inputs - 1)
    assert list(explorer.figure.data[1].x) == list(range(lags + 1))
    assert len(explorer.figure.data[1].y) == lags + 1
    assert explorer.figure.data[1].y[0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def paths():
    return rl.viz.path_explorer(decay=0.3)


@pytest.mark.parametrize(
    "values", [dict(n_blocks=1), dict(n_blocks=110), dict(factor=0.05), dict(factor=1.0)]
)
def test_path_explorer_ends_of_the_sliders(paths, values):
    paths.update(n_blocks=54, factor=0.3)
    before = _data(paths)
    paths.update(**values)
    assert paths.error is None and _plain_lists(paths) and _data(paths) != before
    assert "of the gradient comes from lengths" in paths.status.value
    assert len(paths.figure.data[0].y) == paths.values["n_blocks"] + 1


@pytest.fixture(scope="module")
def lesions(small_data):
    nets = {}
    for name, residual in [("residual", True), ("plain", False)]:
        rl.set_seed(0)
        nets[name] = rl.mlp.mlp(6, 16, 40, 10, residual=residual, norm="batch")
        rl.train.fit(nets[name], small_data, epochs=2, lr=0.05, progress=False)
    return rl.viz.lesion_explorer(nets, small_data)


@pytest.mark.parametrize(
    "values",
    [
        dict(first=0),
        dict(first=4),
        dict(count=0),
        dict(count=6),
        dict(choice="random"),
        dict(choice="consecutive"),
    ],
)
def test_lesion_explorer_ends_of_the_sliders(lesions, values):
    lesions.update(first=2, count=2, choice="random" if values.get("choice") != "random" else "consecutive")
    before = _data(lesions)
    lesions.update(**values)
    assert lesions.error is None and _plain_lists(lesions)
    assert _data(lesions) != before
    assert "deleted blocks" in lesions.status.value


def test_static_figures_build():
    r = rl.shattering.shattering(2, False, width=20, n_inputs=32)
    fig = rl.viz.shattering_figure({"a": r, "b": r})
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    fig = rl.viz.lag1_figure({"x": [1.0, 0.5, 0.1]})
    assert list(fig.data[0].y) == [1.0, 0.5, 0.1]
    fig = rl.viz.paths_figure(10, 0.5 ** np.arange(11))
    assert len(fig.data) == 3 and abs(sum(fig.data[2].y) - 1) < 1e-9
    fig = rl.viz.lesion_figure({"residual": [0.1, 0.2]}, {"residual": 0.1})
    assert list(fig.data[0].y) == [0.1, 0.2]


def test_lesion_explorer_reaches_every_block_of_each_network(lesions):
    # the residual net has 6 blocks, the plain one 5 layers after its stem: each is lesioned in its own range
    lesions.update(first=0, count=6, choice="consecutive")
    assert lesions.error is None
    assert "residual: deleted blocks [0, 1, 2, 3, 4, 5]" in lesions.status.value
    assert "plain: deleted blocks [0, 1, 2, 3, 4]" in lesions.status.value
    lesions.update(first=5, count=1)
    assert "plain: deleted blocks none" in lesions.status.value


def test_the_shattering_explorer_speaks_korean_and_keeps_english_values():
    with rl.language.local_language("ko"):
        explorer = rl.viz.shattering_explorer(max_depth=4, width=8, n_inputs=64)
        explorer.update(depth=1, architecture="residual", batch_norm=False)
        assert explorer.controls["architecture"].label == "잔차"  # the label a learner reads
        assert explorer.values["architecture"] == "residual"  # the value code compares
        assert "잔차 블록 1개, 배치 정규화 없음: 시차 1 자기상관" in explorer.status.value
        assert explorer.figure.layout.xaxis.title.text == "입력 x"
