"""Reference solutions for notebook 04's exercises. Try them yourself first!

The unit tests (`tests/`) run each of these through its `rl.checks` check, so they stay correct.
"""


def second_moment_recursion(depth, gain, residual_scale, batch_norm):
    values = [1.0]  # E[h_0^2]
    for _ in range(depth):
        z2 = 1.0 if batch_norm else values[-1]  # E[z^2] of what enters the ReLU
        branch = gain * z2 / 2  # E[f^2] = width * (gain / width) * E[ReLU(z)^2]
        values.append(residual_scale**2 * (values[-1] + branch))
    return values
