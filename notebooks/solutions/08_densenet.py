"""Reference solutions for notebook 08 (DenseNet). Try the exercises first."""

# Exercise 1: block 1 returns k0 + 5k = 25 + 60 = 85 channels (its input survives, each layer adds
# k); the transition keeps floor(0.5 * 85) = 42 of them.
channels_after_transition = 42

# Exercise 2: every large weight tensor is a product of two widths that both scale with k (the 3x3
# conv is 4k x k, the 1x1 reads c = 2k + l k and writes 4k), so doubling k multiplies the parameters
# by about 4; BN and the classifier grow only linearly: 3,020,506 / 769,162 = 3.93.
growth_rate_factor = 3.93
