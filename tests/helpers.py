"""Helpers shared by the exercise-check tests: load a reference solution file, and an unsolved stub."""

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_solutions(name: str) -> ModuleType:
    """Import `notebooks/solutions/<name>.py` as a module."""
    path = ROOT / "notebooks" / "solutions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{name.replace('.', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stub(*args):
    """An exercise the learner has not solved yet."""
    raise NotImplementedError


# Two exercise checks the series has retired (the notebooks now test understanding, not re-typing a
# formula), kept here as the simplest users of `compare`: the protocol tests feed them bad answers.


def check_count_paths(fn):
    """How many of the 2^n paths of n blocks take exactly k branches: math.comb(n, k), by `compare`."""
    import math

    import reslib as rl

    return rl.checks.compare(
        "count_paths",
        fn,
        lambda n, k: math.comb(n, k),
        [(1, 0), (1, 1), (4, 2), (10, 3), (54, 27), (54, 0), (110, 5)],
        ("choose which k of the n blocks a path takes.", "math.comb(n, k)."),
        atol=0.0,
        rtol=1e-12,
        slow_hint="The recursion C(n-1, k-1) + C(n-1, k) takes about C(n, k) steps: use math.comb(n, k).",
    )


def check_compose(fn):
    """`fn(layers, x)` applies `layers` first to last, by `compare` (cases hold lists it could mutate)."""
    import functools

    import torch
    from torch import nn

    import reslib as rl

    gen = torch.Generator().manual_seed(1)
    cases = []
    for depth in (1, 2, 5):
        with rl.runtime.local_seed(depth):
            layers = [nn.Linear(4, 4), nn.Tanh()] * depth + [lambda h: 2 * h + 1]
        cases.append((layers, torch.randn(3, 4, generator=gen)))
    cases.append(([], torch.randn(2, 4, generator=gen)))
    reference = lambda layers, x: functools.reduce(lambda h, f: f(h), layers, x)
    return rl.checks.compare(
        "compose", fn, reference, cases, ("keep a running value.", "h = f(h) for f in layers.")
    )
