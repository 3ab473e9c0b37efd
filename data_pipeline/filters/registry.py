"""The curation chain's registry: a step is one file with one `@register_filter` class.

The decorator records the class, the stage it runs in and its place in the chain; the class's
`from_config(cfg, exclusion_writer)` reads its own config field and returns the block (or None
when that field switches it off). `pipelines.py` builds each stage from here, `STEPS` is derived
from here, and `collect_stats` names each step's datatrove stats by its class through here, so
a step's name (its `name` attribute: stats.json's step, `removed/<name>/`) is spelled once.
Registration is by folder, as eval's tasks: every module of `data_pipeline/filters/` is
imported, plus the few steps that live beside their own machinery (`EXTRA_MODULES`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

EXTRA_MODULES = ("data_pipeline.token_count", "data_pipeline.format.jupyter", "data_pipeline.decontam.filter")
"""Registered steps outside `filters/`: token counting, the notebook converter, decontamination."""


@dataclass(frozen=True)
class RegisteredStep:
    name: str
    """The step's `name`: its stats.json entry and its `removed/<name>/` folder."""
    cls: type
    stage: str
    """`filter` (before deduplication) or `dedup_filter` (after it)."""
    order: int
    """Place in its stage, smallest first."""
    drops: bool
    """Whether it removes files (then it gets an exclusion writer and a stats.json entry)."""


_REGISTRY: dict[str, RegisteredStep] = {}


def register_filter(order: int, stage: str = "filter", drops: bool = True):
    """Class decorator: put this step into the chain at `order` within `stage`."""
    if stage not in ("filter", "dedup_filter"):
        raise ValueError(f"register_filter: unknown stage {stage!r}")

    def wrap(cls: type) -> type:
        if not hasattr(cls, "from_config"):
            raise TypeError(f"{cls.__name__}: a registered step needs a from_config(cfg, exclusion_writer) classmethod")
        previous = _REGISTRY.get(cls.name)
        if previous is not None and previous.cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"step name {cls.name!r} registered twice ({previous.cls.__name__}, {cls.__name__})")
        _REGISTRY[cls.name] = RegisteredStep(cls.name, cls, stage, order, drops)
        return cls

    return wrap


def registered_steps(stage: str | None = None) -> list[RegisteredStep]:
    """Every registered step (of `stage`), in chain order."""
    import data_pipeline.filters as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    for module in EXTRA_MODULES:
        importlib.import_module(module)
    steps = [s for s in _REGISTRY.values() if stage is None or s.stage == stage]
    return sorted(steps, key=lambda s: (s.stage != "filter", s.order))
