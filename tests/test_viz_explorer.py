import numpy as np
import plotly.graph_objects as go
import pytest

import reslib as rl


@pytest.fixture(scope="module")
def explorer():
    return rl.viz.gradient_explorer(rl.data.mnist1d(device="cpu"))


def test_gradient_explorer_builds_with_controls_and_a_figure_widget(explorer):
    assert set(explorer.controls) == {"depth", "activation", "residual"}
    assert isinstance(explorer.figure, go.FigureWidget)
    assert explorer.figure in explorer.children and explorer.error is None
    assert len(explorer.figure.data[0].y) == explorer.values["depth"] + 1


def test_moving_the_slider_redraws(explorer):
    explorer.update(depth=5, activation="relu")
    before = np.array(explorer.figure.data[0].y)
    explorer.controls["depth"].value = 30  # as a browser would
    after = np.array(explorer.figure.data[0].y)
    assert len(before) == 6 and len(after) == 31 and explorer.error is None
    assert "depth 30" in explorer.status.value
    # numpy arrays in widget traces make plotly raise in the kernel when plotly.js echoes them back
    assert not any(isinstance(v, np.ndarray) for t in explorer.figure.data for v in (t.x, t.y))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("depth", [1, 50])
def test_ends_of_the_slider_never_crash(explorer, depth, activation):
    explorer.update(depth=depth, activation=activation)
    assert explorer.error is None
    if (depth, activation) == (50, "sigmoid"):
        assert "exactly unchanged" in explorer.status.value


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("depth", [1, 50])
def test_the_residual_box_at_the_ends_of_the_slider(explorer, depth, activation):
    explorer.update(depth=depth, activation=activation, residual=True)
    assert explorer.error is None and f"{depth} residual block" in explorer.status.value
    assert len(explorer.figure.data[0].y) == depth + 2  # stem, blocks, head


def test_skips_keep_a_50_layer_sigmoid_nets_gradient(explorer):
    explorer.update(depth=50, activation="sigmoid", residual=False)
    plain = np.array(explorer.figure.data[0].y, dtype=float)
    explorer.controls["residual"].value = True  # as a browser would
    res = np.array(explorer.figure.data[0].y, dtype=float)
    assert plain[0] / plain[-2] < 1e-25 and res[0] / res[-2] > 1e-2
    assert "exactly unchanged" not in explorer.status.value


def test_an_update_of_the_gradient_explorer_takes_under_100_ms(explorer):
    import time

    explorer.update(depth=50, activation="sigmoid", residual=True)  # warm up
    start = time.perf_counter()
    explorer.update(depth=49, activation="tanh", residual=True)  # not cached
    assert time.perf_counter() - start < 0.5  # < 100 ms on an idle laptop; slack for loaded CI


def test_the_gradient_explorer_gives_the_thread_count_back(explorer):
    import torch

    before = torch.get_num_threads()
    explorer.update(depth=47, activation="relu", residual=False)  # not cached: computes on one thread
    assert torch.get_num_threads() == before


def test_update_rejects_unknown_controls(explorer):
    with pytest.raises(ValueError, match="unknown controls"):
        explorer.update(width=3)


def test_a_failing_redraw_is_shown_not_raised():
    fig = go.FigureWidget(go.Scatter(y=[1, 2]))

    def redraw(n):
        raise FloatingPointError("variance overflowed float32 at depth 140")

    import ipywidgets as widgets

    explorer = rl.viz.Explorer({"n": widgets.IntSlider(value=1)}, fig, redraw)
    assert isinstance(explorer.error, FloatingPointError)
    assert "variance overflowed float32 at depth 140" in explorer.status.value


def test_a_bad_builder_argument_fails_the_cell_and_a_bad_slider_value_shows_in_the_status():
    import ipywidgets as widgets

    def redraw(n):
        return f"n = {rl.validate.require_int('n', n, maximum=5)}"

    with pytest.raises(ValueError, match="n must be an int in"):
        rl.viz.Explorer({"n": widgets.IntSlider(value=9)}, go.FigureWidget(), redraw)
    explorer = rl.viz.Explorer({"n": widgets.IntSlider(value=1)}, go.FigureWidget(), redraw)
    explorer.update(n=7)
    assert isinstance(explorer.error, ValueError) and "n must be an int" in explorer.status.value
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        rl.viz.variance_explorer(width=0)


def test_a_stored_explorer_reads_as_plain_text_and_still_shows_the_widget_live(explorer):
    explorer.update(depth=7, activation="tanh")
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
    text = bundle["text/plain"]
    expected = "<live explorer (depth, activation, residual): run this notebook to use it>"
    assert text == repr(explorer) == expected
    explorer.update(depth=30, activation="relu")  # what a reader sees does not depend on the values
    assert explorer._repr_mimebundle_()["text/plain"] == text


def test_a_view_built_from_the_widget_state_draws_what_the_explorer_drew():
    # A RISE slideshow (or a reloaded page) builds its views from the kernel's widget state, not
    # from the restyle messages the first draw sent: the state must hold the drawn traces.
    fresh = rl.viz.variance_explorer(width=16, n_samples=32)
    drawn = [trace for trace in fresh.figure._data if trace.get("y") is not None]
    assert drawn, "the first draw put data in the figure"
    assert fresh.figure._widget_data == fresh.figure._data
    assert fresh.figure._widget_layout == fresh.figure._layout_obj._props
    fresh.update(depth=3)  # and so does every later drawing
    assert fresh.figure._widget_data == fresh.figure._data
