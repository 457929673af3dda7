"""Static explorers: one frame per grid value, each what the live explorer draws there."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import pytest

import reslib as rl
from reslib.viz.static import MAX_FRAMES


def _frame_traces(figure: go.Figure, frame: go.Frame) -> list[dict]:
    """The traces a browser shows at `frame`: the figure's own traces updated by the frame's."""
    base = [t.to_plotly_json() for t in figure.data]
    return [{**b, **f.to_plotly_json()} for b, f in zip(base, frame.data, strict=True)]


def _same(static, live) -> bool:
    """A frame's values (a list, or a float32 array for long ones) against the live figure's, to 4 digits."""
    a = np.asarray([np.nan if v is None else v for v in static], dtype=float)
    b = np.asarray([np.nan if v is None else float(f"{v:.4g}") for v in live], dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=0, equal_nan=True)


def test_one_frame_per_option_each_as_the_live_explorer_draws_it():
    explorer = rl.viz.euler_explorer()
    figure = rl.viz.static_explorer(explorer)
    depths = [2**k for k in range(9)]
    assert [f.name for f in figure.frames] == [f"depth={d}" for d in depths]
    steps = figure.layout.sliders[0].steps
    assert [list(s.args[0]) for s in steps] == [[f.name] for f in figure.frames]
    assert all(s.method == "animate" and s.args[1]["mode"] == "immediate" for s in steps)
    assert figure.layout.sliders[0].active == depths.index(16)  # the explorer's own value
    for depth, frame in zip(depths, figure.frames, strict=True):
        explorer.update(depth=depth)
        for live, static in zip(explorer.figure.data, _frame_traces(figure, frame), strict=True):
            assert _same(static["x"], live.x) and _same(static["y"], live.y)
        status = explorer.status.value.split(">", 1)[1].rsplit("<", 1)[0]
        assert frame.layout.title.text == status


def test_values_restored_and_int_slider_thinned():
    explorer = rl.viz.variance_explorer()
    explorer.update(depth=37, init="Glorot")
    before = explorer.values
    figure = rl.viz.static_explorer(explorer, "depth", max_frames=20)
    assert explorer.values == before
    names = [f.name for f in figure.frames]
    assert len(names) == 20 and names[0] == "depth=1" and names[-1] == "depth=200"
    assert explorer.error is None


def test_the_sweep_sends_each_widget_state_once_the_values_restored():
    # Without holding, each of the sweep's drawings went to every frontend holding the widgets: 427
    # messages (623 kB) for this copy. Held, each widget sends what changed once, at the end.
    explorer = rl.viz.path_explorer(decay=0.8)
    explorer.update(n_blocks=20)
    sent = []
    for widget in (explorer.figure, explorer.status, *explorer.controls.values()):
        widget._send = lambda msg, buffers=None, widget=widget: sent.append((widget, msg["state"]))
    rl.viz.static_explorer(explorer, "n_blocks")
    assert [type(w).__name__ for w, _ in sent] == ["IntSlider", "HTML", "FigureWidget"]
    (_, slider), (_, status), (figure, drawn) = sent
    assert slider == {"value": 20} and status["value"] == explorer.status.value
    assert drawn["_py2js_update"] is None  # no drawing replayed to an open view: it shows this one
    assert drawn["_widget_data"] == figure.get_state("_widget_data")["_widget_data"]  # the restored one
    explorer.update(n_blocks=21)  # and afterwards the explorer sends its drawings again
    assert any("_py2js_update" in state for _, state in sent[3:])


def test_several_controls_make_their_product():
    explorer = rl.viz.variance_explorer()
    figure = rl.viz.static_explorer(explorer, ["init", "batch_norm"])
    assert [f.name for f in figure.frames] == [
        "init=He, batch_norm=False",
        "init=He, batch_norm=True",
        "init=Glorot, batch_norm=False",
        "init=Glorot, batch_norm=True",
    ]
    thinned = rl.viz.static_explorer(explorer, ["depth", "init"], max_frames=10)
    assert len(thinned.frames) == 10  # 5 depths x 2 inits


def test_without_controls_a_registered_explorer_steps_through_its_registered_sweep():
    explorer = rl.viz.variance_explorer()
    assert explorer.name == "variance_explorer"
    assert rl.viz.EXPLORERS["variance_explorer"].sweep == ("depth", "batch_norm")  # as notebook 04 passes
    names = [f.name for f in rl.viz.static_explorer(explorer, max_frames=6).frames]
    assert names == [f"depth={d}, batch_norm={b}" for d in (1, 101, 200) for b in (False, True)]


def test_float_and_selection_controls():
    figure = rl.viz.static_explorer(rl.viz.path_explorer(), "factor")
    assert len(figure.frames) == 20 and figure.frames[0].name == "factor=0.05"
    assert figure.frames[-1].name == "factor=1"


def _counting_explorer(fails) -> rl.viz.Explorer:
    figure = go.FigureWidget(go.Figure(go.Scatter(x=[0], y=[0])))

    def redraw(n: int, note: str) -> str:
        if fails(n):
            raise RuntimeError(f"no drawing at {n}")
        figure.data[0].y = [n]
        return f"n is {n}"

    controls = {
        "n": widgets.IntSlider(value=1, min=1, max=5),
        "note": widgets.Text(value="x"),
    }
    return rl.viz.Explorer(controls, figure, redraw)


def test_a_failing_value_is_marked_and_the_rest_drawn():
    figure = rl.viz.static_explorer(_counting_explorer(lambda n: n == 3))
    assert [f.name for f in figure.frames][2] == "n=3 (could not draw)"
    assert "no drawing at 3" in figure.frames[2].layout.title.text
    assert figure.frames[2].data[0].visible is False
    assert figure.frames[3].data[0].visible is True and list(figure.frames[3].data[0].y) == [4]


def test_errors_name_the_argument_and_the_fix():
    explorer = rl.viz.euler_explorer()
    with pytest.raises(ValueError, match=r"controls must name .*'depth'"):
        rl.viz.static_explorer(explorer, "width")
    with pytest.raises(ValueError, match="controls must name"):
        rl.viz.static_explorer(explorer, [])
    with pytest.raises(ValueError, match=r"max_frames"):
        rl.viz.static_explorer(explorer, max_frames=0)
    with pytest.raises(ValueError, match=r"max_frames"):
        rl.viz.static_explorer(explorer, max_frames=MAX_FRAMES + 1)
    with pytest.raises(TypeError, match=r"max_frames"):
        rl.viz.static_explorer(explorer, max_frames=2.5)
    with pytest.raises(TypeError, match=r"explorer"):
        rl.viz.static_explorer(explorer.figure)
    variance = rl.viz.variance_explorer()
    with pytest.raises(ValueError, match=r"controls: .* too many frames .* name fewer controls"):
        rl.viz.static_explorer(variance, ["init", "scaling", "batch_norm"], max_frames=4)
    with pytest.raises(TypeError, match=r"controls: 'note' is a Text"):
        rl.viz.static_explorer(_counting_explorer(lambda n: False), ["note"])
    never = _counting_explorer(lambda n: True)
    with pytest.raises(ValueError, match=r"could not draw any of the 5 values .* no drawing at 1"):
        rl.viz.static_explorer(never)
    assert never.values == {"n": 1, "note": "x"}


def test_floats_rounded_and_long_lists_stored_as_typed_arrays():
    figure = rl.viz.static_explorer(rl.viz.variance_explorer(), "depth", max_frames=5)
    lists = [t.y for f in figure.frames for t in f.data if isinstance(t.y, tuple | list)]
    short = [v for y in lists for v in y if isinstance(v, float)]
    assert short and all(float(f"{v:.4g}") == v for v in short)
    long = figure.frames[-1].data[0].y  # 200 blocks
    assert isinstance(long, np.ndarray) and len(long) == 201
    assert figure.to_dict()["frames"][-1]["data"][0]["y"]["dtype"] in ("f4", "f8")  # base64 in the JSON
    wide = rl.viz.static_explorer(rl.viz.variance_explorer(), ["depth"], max_frames=2)
    overflowed = wide.frames[-1].data[0].y  # E[h^2] past float32's max is kept, not cast to inf
    assert np.nanmax(overflowed) > 3.4e38 or not np.isinf(overflowed).any()


def test_frames_keep_each_trace_type():
    histories = {"ResNet-18": rl.train.History([1.0, 0.5], [1.2, 0.7], [0.5, 0.3], [0.6, 0.4])}
    explorer = rl.viz.resnet_explorer(histories)
    figure = rl.viz.static_explorer(explorer, "network")
    types = [t.type for t in explorer.figure.data]
    assert "table" in types
    assert all([t.type for t in frame.data] == types for frame in figure.frames)


def test_an_axis_range_set_in_some_frames_only_is_reset_in_the_others():
    figure = go.FigureWidget(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])))

    def redraw(n: int) -> str:
        figure.data[0].y = [0, n]
        figure.layout.yaxis.range = [0, 10] if n > 2 else None
        return f"n is {n}"

    explorer = rl.viz.Explorer({"n": widgets.IntSlider(value=1, min=1, max=4)}, figure, redraw)
    frames = rl.viz.static_explorer(explorer).frames
    assert [f.layout.yaxis.autorange for f in frames] == [True, True, False, False]
    assert list(frames[3].layout.yaxis.range) == [0, 10]
