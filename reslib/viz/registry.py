"""Every live explorer of the series, registered by the module that defines it.

An entry says how to build the explorer without its notebook (`demo`: the arguments, cheap and
realistic), which controls its static copy steps through (`sweep`, what `static_explorer` takes
when it is given no controls) and which notebook shows it. The benchmark (`tools/bench.py`), the
tests that build and drive every explorer, and the slide checks read this registry, so a new
explorer is one `register_explorer(...)` call next to its factory, and a test fails until it is
there.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from reslib.validate import typechecked
from reslib.viz.explorer import Explorer

__all__ = [
    "EXPLORERS",
    "ExplorerEntry",
    "register_explorer",
]


@typechecked  # fields checked on construction
@dataclasses.dataclass(frozen=True)
class ExplorerEntry:
    """One registered explorer.

    Attributes:
        name: the factory's name, e.g. "variance_explorer" (`rl.viz.variance_explorer`); an explorer
            it builds carries it as `explorer.name`.
        factory: the function that builds the explorer.
        demo: returns the keyword arguments of one realistic build without the notebook: the
            notebook's sizes, with a shortcut only where it cannot change what an update costs
            (each demo's docstring says which).
        sweep: the controls a static copy steps through, as the notebook passes them to
            `static_explorer`.
        notebook: the notebook that shows it, e.g. "04_forward_variance".
    """

    name: str
    factory: Callable[..., Explorer]
    demo: Callable[[], Mapping[str, object]]
    sweep: tuple[str, ...]
    notebook: str

    def build(self) -> Explorer:
        """The explorer, built from its demo arguments."""
        return self.factory(**self.demo())


# name -> entry, filled as each module of reslib.viz is imported (importing reslib.viz imports all);
# a read-only view: only `register_explorer` adds to it.
_ENTRIES: dict[str, ExplorerEntry] = {}
EXPLORERS: Mapping[str, ExplorerEntry] = MappingProxyType(_ENTRIES)


@typechecked
def register_explorer(
    factory: Callable[..., Explorer],
    demo: Callable[[], Mapping[str, object]],
    sweep: Sequence[str],
    notebook: str,
) -> ExplorerEntry:
    """Register `factory` under its own name (`factory.__name__`) and return the entry.

    Args:
        factory: a function `*_explorer` that returns an `Explorer` built with `name=` its own name.
        demo: called with no arguments, returns the factory's keyword arguments for a demo build.
        sweep: the names of the controls a static copy steps through (one or more).
        notebook: the notebook's file name without `.ipynb`, e.g. "04_forward_variance".

    Raises:
        TypeError: a factory or demo that is not a function (a class, a module instance).
        ValueError: a name that does not end in `_explorer`, an empty or repeated sweep, a notebook
            name that is not `NN_snake_case`, or another function registered under the same name.
    """
    for argument, value in (("factory", factory), ("demo", demo)):
        if not inspect.isfunction(value):
            raise TypeError(f"{argument} must be a function (def or lambda), got {type(value).__name__}")
    name = factory.__name__
    if not re.fullmatch(r"[a-z][a-z0-9_]*_explorer", name):
        raise ValueError(f"factory must be a function named like 'variance_explorer', got {factory!r}")
    if not sweep or len(set(sweep)) < len(sweep):
        raise ValueError(f"sweep must name one or more distinct controls, e.g. ('depth',), got {sweep!r}")
    if not re.fullmatch(r"\d\d_[a-z0-9_]+", notebook):
        raise ValueError(
            f"notebook must be a notebook's file name without .ipynb, e.g. '04_forward_variance', "
            f"got {notebook!r}"
        )
    known = EXPLORERS.get(name)
    if known is not None and known.factory.__module__ != factory.__module__:
        raise ValueError(
            f"factory: an explorer named {name!r} is already registered by {known.factory.__module__}"
        )
    entry = ExplorerEntry(name, factory, demo, tuple(sweep), notebook)
    _ENTRIES[name] = entry  # the same module again (a reload) replaces its entry
    return entry
