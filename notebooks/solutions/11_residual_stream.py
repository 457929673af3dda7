"""Reference solutions for notebook 11's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""

import torch


def pre_ln_block(block, x):
    x = x + block.attn(block.ln_1(x))  # (B, T, C): normalise the branch's input, add its output
    return x + block.mlp(block.ln_2(x))


def which_fails(norm_first, warmup):
    return not norm_first and not warmup  # post-LN without warm-up, at 12 blocks


def logit_lens(model, idx):
    positions = torch.arange(idx.shape[1], device=idx.device)
    h = model.wte(idx) + model.wpe(positions)  # (B, T, C): the stream before block 1
    states = [h]
    for block in model.blocks:
        h = block(h)
        states.append(h)
    return torch.stack([model.lm_head(model.ln_f(s)) for s in states])  # (L + 1, B, T, classes)
