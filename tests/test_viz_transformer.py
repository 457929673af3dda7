"""Notebook 11's figures and explorers: built, driven through every control, never crashing."""

import numpy as np
import pytest
import torch

import reslib as rl


@pytest.fixture(scope="module")
def tokens():
    data = rl.sequences.sequence_task(32, 16, device="cpu")
    return data.x_test, data.y_test


@pytest.fixture(scope="module")
def results(tokens):
    out = {}
    for depth in (1, 2):
        for placement in ("pre-LN", "post-LN"):
            for warmup in (False, True):
                torch.manual_seed(depth)
                model = rl.transformer.transformer(10, 8, depth, 8, 2, norm_first=placement == "pre-LN")
                profile = rl.stream.gradient_profile(model, *tokens)
                loss = np.linspace(2.3, 1.0 + warmup, 20)
                out[depth, placement, warmup] = (
                    profile,
                    rl.sequences.SequenceRun(loss, 0.5, None, 1e-3, 5 * warmup),
                )
    return out


def test_placement_explorer_redraws_for_every_control(results):
    explorer = rl.viz.placement_explorer(results)
    seen = set()
    for depth, placement, warmup in results:
        explorer.update(depth=depth, placement=placement, warmup=warmup)
        assert explorer.error is None and placement in explorer.status.value
        seen.add((len(explorer.figure.data[0].y), explorer.figure.data[1].y[-1]))
    assert len(seen) == 4  # two depths, two curves


def test_placement_explorer_says_when_a_run_is_missing_and_reports_divergence(results):
    partial = {k: v for k, v in results.items() if k != (1, "pre-LN", True)}
    profile, _ = results[1, "pre-LN", False]
    partial[2, "pre-LN", True] = (profile, rl.sequences.SequenceRun(np.array([2.3, 9.0]), 0.0, 1, 1e-3, 0))
    explorer = rl.viz.placement_explorer(partial)
    explorer.update(depth=1, placement="pre-LN", warmup=True)
    assert explorer.error is None and "was not trained" in explorer.status.value
    explorer.update(depth=2, placement="pre-LN", warmup=True)
    assert "diverged at step 2" in explorer.status.value
    with pytest.raises(ValueError, match="results"):
        rl.viz.placement_explorer({})


def test_placement_figure_has_two_traces_per_model(results):
    fig = rl.viz.placement_figure({f"{k}": v for k, v in list(results.items())[:3]})
    assert len(fig.data) == 6 and list(fig.data[0].x) == [1]
    assert [t.name for t in fig.data] == [f"{k}" for k in list(results)[:3] for _ in range(2)]
    assert len(rl.viz.find_trace(fig, "curve 2").y) == 20  # the third model's loss curve, 20 steps


def test_lens_explorer_moves_through_every_block(tokens):
    torch.manual_seed(0)
    readout = rl.stream.logit_lens(rl.transformer.transformer(10, 8, 3, 8, 2), *tokens)
    explorer = rl.viz.lens_explorer(readout)
    assert explorer.controls["block"].max == 3
    for block in range(4):
        explorer.update(block=block)
        assert explorer.error is None and "decoded" in explorer.status.value
        assert np.allclose(explorer.figure.data[0].z, readout.probs[block], atol=1e-4)
        assert list(explorer.figure.data[4].x) == [block]
    assert "embedding" in (explorer.update(block=0) or explorer.status.value)
    with pytest.raises(ValueError, match="block"):
        rl.viz.lens_figure(readout, 4)
