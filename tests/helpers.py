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
