"""Figures and explorers of notebooks 08-09: built, driven to every control's ends, never failing."""

import plotly.graph_objects as go
import pytest
import torch

import reslib as rl
from reslib import viz


def _data(fig):
    return [
        (
            tuple(t.x) if t.x is not None else None,
            tuple(t.y) if t.y is not None else None,
            str(t.z) if getattr(t, "z", None) is not None else None,
        )
        for t in fig.data
    ]


def test_static_figures_build():
    assert isinstance(viz.channel_figure(), go.Figure)
    assert isinstance(viz.bar_figure({"a": 1.0, "b": 2.0}, "t", "y"), go.Figure)
    fig = viz.unet_trace_figure(572)
    assert list(fig.data[0].y)[-1] == 388
    x, mask = torch.rand(3, 1, 8, 8), torch.randint(0, 3, (3, 8, 8))
    fig = viz.segmentation_figure(x, mask, {"model": mask}, n=3)
    assert len(fig.data) == 9
    heat = torch.rand(2, 8, 8)
    assert len(viz.heatmap_figure(x[0], heat, torch.rand(2, 2) * 7).data) == 3 + 2 * 4


def test_keypoint_grid_marks_true_and_predicted_keypoints_with_their_errors():
    data = rl.scenes.keypoints(6, 16, seed=0)
    fig = viz.keypoint_grid_figure(data.x, data.heatmaps.flip(1), data.coords, n=5)  # every keypoint swapped
    assert len(fig.data) == 5 * (1 + 2 * 2)
    predicted = next(t for t in fig.data if t.meta == "predicted 0 in 0")  # the disc's x sits on the square
    true_square = next(t for t in fig.data if t.meta == "true 1 in 0")
    assert abs(predicted.x[0] - true_square.x[0]) <= 0.5 and abs(predicted.y[0] - true_square.y[0]) <= 0.5
    exact = viz.keypoint_grid_figure(data.x, data.heatmaps, data.coords, n=2)
    errors = [float(e) for a in exact.layout.annotations for e in a.text.removesuffix(" px").split(", ")]
    assert len(errors) == 4 and max(errors) <= 1  # the true maps peak on the pixel nearest the centre
    with pytest.raises(ValueError, match="n must"):
        viz.keypoint_grid_figure(data.x, data.heatmaps, data.coords, n=7)


def test_channel_figure_bars_are_k0_plus_l_k():
    fig = viz.channel_figure(growth_rate=4, block_config=(3, 2), num_init_features=8)
    assert list(fig.data[0].y) == [8, 12, 16] and list(fig.data[1].y) == [10, 14]


@pytest.mark.parametrize(
    "name, values", [("growth_rate", (1, 48)), ("layers", (1, 40)), ("compression", (0.1, 1.0))]
)
def test_densenet_explorer_at_both_ends_of_every_slider(name, values):
    explorer = viz.densenet_explorer()
    for value in values:
        before = _data(explorer.figure)
        explorer.update(**{name: value})
        assert explorer.error is None, explorer.error
        assert _data(explorer.figure) != before
    assert "parameters" in explorer.status.value


def test_densenet_explorer_status_gives_the_exact_parameter_count():
    explorer = viz.densenet_explorer()
    explorer.update(growth_rate=12, layers=16, compression=0.5)
    assert "769,162 parameters" in explorer.status.value


def test_unet_trace_explorer_never_fails_and_reports_where_sizes_stop():
    explorer = viz.unet_trace_explorer()
    for size in (16, 700, 571, 572, 576):
        before = _data(explorer.figure)
        explorer.update(size=size)
        assert explorer.error is None, explorer.error
        assert _data(explorer.figure) != before
    explorer.update(size=571)
    assert "fails at" in explorer.status.value and "even size" in explorer.status.value
    explorer.update(size=572)
    assert "572 -&gt; 388" in explorer.status.value


def test_hourglass_explorer_at_both_ends_of_its_sliders():
    torch.manual_seed(0)
    data = rl.scenes.keypoints(6, 16, seed=0)
    outputs = [torch.rand(6, 2, 16, 16), torch.rand(6, 2, 16, 16)]
    explorer = viz.hourglass_explorer(data.x, outputs, data.coords)
    for values in (dict(stack=1), dict(stack=2), dict(example=5), dict(example=0)):
        before = _data(explorer.figure)
        explorer.update(**values)
        assert explorer.error is None, explorer.error
        assert _data(explorer.figure) != before
    assert "keypoint errors" in explorer.status.value


# -- robustness: what the figures of notebook 09 refuse (issue 25) ----------------------------------


def _keypoint_batch():
    scenes = rl.scenes.keypoints(4, 16, seed=0)
    return scenes.x, scenes.heatmaps, scenes.coords


def _one_changed(t: torch.Tensor, value: float) -> torch.Tensor:
    t = t.clone().float()
    t.view(-1)[0] = value
    return t


@pytest.mark.parametrize("argument", ["x", "heatmaps", "coords"])
@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda t: t.to(torch.complex64), TypeError, "must hold real numbers"),
        (lambda t: t.to("meta"), ValueError, "meta device"),
        (lambda t: _one_changed(t, float("nan")), ValueError, "NaN or infinity"),
        (lambda t: torch.cat([t, t[..., :1]], -1), ValueError, "must have|must hold one"),
    ],
)
def test_keypoint_figures_refuse_complex_meta_nan_and_mismatched_sizes(argument, change, error, match):
    x, heatmaps, coords = _keypoint_batch()
    given = dict(x=x, heatmaps=heatmaps, coords=coords)
    given[argument] = change(given[argument])
    with pytest.raises(error, match=match) as raised:
        viz.keypoint_grid_figure(**given, n=2)
    assert argument in str(raised.value)
    one = {k: v[0] for k, v in given.items()}
    with pytest.raises(error, match=match) as raised:
        viz.heatmap_figure(**one)
    assert argument in str(raised.value)
    explorer_args = dict(x=given["x"], outputs=[given["heatmaps"]], coords=given["coords"])
    with pytest.raises(error, match=match) as raised:
        viz.hourglass_explorer(**explorer_args)
    assert (argument if argument != "heatmaps" else "outputs[0]") in str(raised.value)


def test_keypoint_figures_still_draw_integer_images():
    x, heatmaps, coords = _keypoint_batch()
    fig = viz.heatmap_figure((x[0] * 255).round().long(), heatmaps[0], coords[0].long())
    assert len(fig.data) == 1 + 2 + 2 * 2 * 2


@pytest.mark.parametrize(
    "argument, change, error, match",
    [
        ("x", lambda t: t.to(torch.complex64), TypeError, "x must hold real numbers"),
        ("x", lambda t: t.to("meta"), ValueError, "x is on the meta device"),
        ("mask", lambda t: t.to("meta"), ValueError, "mask is on the meta device"),
        ("mask", lambda t: torch.cat([t, t[..., :1]], -1), ValueError, "mask .* one mask per image of x"),
        ("x", lambda t: torch.cat([t, t[..., :1]], -1), ValueError, "mask .* one mask per image of x"),
    ],
)
def test_segmentation_figure_refuses_complex_meta_and_mismatched_sizes(argument, change, error, match):
    scene = rl.scenes.segmentation(n=4, size=16, seed=0)
    given = dict(x=scene.x, mask=scene.mask)
    given[argument] = change(given[argument])
    with pytest.raises(error, match=match):
        viz.segmentation_figure(**given, predictions={"a": scene.mask}, n=2)
    with pytest.raises(ValueError, match=r"predictions\['a'\] .* must have the shape of mask"):
        viz.segmentation_figure(scene.x, scene.mask, {"a": scene.mask[:, :8]}, n=2)


def test_image_grid_and_trace_refuse_complex_nan_and_meta():
    z = torch.rand(4, 5)
    for f in (rl.viz.explorer.image_grid, rl.viz.explorer.image_trace):
        with pytest.raises(TypeError, match="z must hold real numbers"):
            f(z.to(torch.complex64))
        with pytest.raises(ValueError, match="z holds NaN or infinity"):
            f(_one_changed(z, float("inf")))
        with pytest.raises(ValueError, match="z is on the meta device"):
            f(z.to("meta"))
    assert len(rl.viz.explorer.image_grid(torch.arange(6).reshape(2, 3))) == 2  # integers draw


@pytest.mark.parametrize("field", ["x", "y", "w", "h"])
def test_a_box_refuses_nan_and_a_negative_size(field):
    with pytest.raises(ValueError, match=f"Box: {field} must be a finite number"):
        rl.viz.diagram.Box(**{**dict(x=1.0, y=2.0, w=3.0, h=4.0), field: float("nan")})
    if field in ("w", "h"):
        with pytest.raises(ValueError, match=f"Box: {field} must be a finite number >= 0"):
            rl.viz.diagram.Box(**{**dict(x=1.0, y=2.0, w=3.0, h=4.0), field: -1.0})


def _trace_keys(figure):
    return {t.meta for t in figure.data}


def test_notebook_08_and_09_figures_speak_korean_and_keep_their_trace_keys():
    scenes, gen = rl.scenes.keypoints(4, 16, seed=0), torch.Generator().manual_seed(0)
    outputs = [torch.rand(4, 2, 16, 16, generator=gen) for _ in range(2)]
    with rl.language.local_language("ko"):
        dense = viz.densenet_explorer()
        dense.update(growth_rate=20)
        unet = viz.unet_trace_explorer()
        unet.update(size=571)
        hourglass = viz.hourglass_explorer(scenes.x, outputs, scenes.coords)
        hourglass.update(stack=1)
        diagram = viz.hourglass_diagram(rl.hourglass.StackedHourglass(1, 2, num_stacks=2, order=2), 16)
    assert "파라미터" in dense.status.value and "성장률 k" in dense.controls["growth_rate"].description
    assert "실패" in unet.status.value and unet.controls["size"].description == "입력 크기"
    assert "키포인트 오차" in hourglass.status.value
    assert diagram.texts()[0].startswith("적층 모래시계 네트워크")
    assert _trace_keys(dense.figure) >= {"block 1", "block 2", "block 3"}
    assert _trace_keys(unet.figure) == {"valid", "same", "crops"}
    assert {"image", "heat map 0", "true 0 on image"} <= _trace_keys(hourglass.figure)
    assert rl.language.language() == "en" and "parameters" in viz.densenet_explorer().status.value
