"""Notebook 11's checks: wrong answers fail with a hint, the references are the library's code."""

import torch

import reslib as rl


def test_logit_lens_check_catches_a_lens_without_the_final_norm_or_the_embedding():
    def no_norm(model, idx):
        return torch.stack([model.lm_head(h) for h in model.streams(idx)])

    def blocks_only(model, idx):
        return torch.stack([model.unembed(h) for h in model.streams(idx)[1:]])

    assert rl.checks.check_logit_lens(no_norm).passed is False
    assert "shape" in rl.checks.check_logit_lens(blocks_only).message


def test_logit_lens_reference_agrees_with_the_stream_readout():
    torch.manual_seed(0)
    model = rl.transformer.transformer(10, 8, 2, 16, 2).eval()
    data = rl.sequences.sequence_task(20, 10, device="cpu")
    logits = rl.checks.logit_lens_reference(model, data.x_test)
    readout = rl.stream.logit_lens(model, data.x_test, data.y_test)
    accuracy = (logits.argmax(-1) == data.y_test).float().mean((1, 2)).numpy()
    assert logits.shape == (3, 10, 8, 10)
    assert abs(accuracy - readout.accuracy).max() < 1e-6
