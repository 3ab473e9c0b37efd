"""The recognizers: one file each in this folder, registered by `@register_recognizer`.

A module here that defines a `CodePatternRecognizer` subclass with the decorator is all a new
recognizer takes (docs/pii.md shows one): the folder is imported on first use (as eval tasks
are, `eval/tasks/__init__.py`), and the class declares its PII class, prefilter triggers and
config fields itself (pii/recognizers/base.py). `build_recognizers` makes the set a config asks
for: every registered recognizer of a configured class, in name order, plus the optional NER
model (`ner_model`), which is a model rather than a pattern file and is loaded on its own.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import TypeVar

from presidio_analyzer import EntityRecognizer

from pii.config import PiiConfig
from pii.recognizers.base import CLASS_TO_ENTITY, ENTITY_TO_CLASS, CodePatternRecognizer, Triggers
from pii.recognizers.ner_recognizer import load_ner_recognizer

logger = logging.getLogger(__name__)
_REGISTRY: dict[str, type[CodePatternRecognizer]] = {}
R = TypeVar("R", bound=type[CodePatternRecognizer])

__all__ = ["CLASS_TO_ENTITY", "ENTITY_TO_CLASS", "CodePatternRecognizer", "Triggers", "build_recognizers",
           "recognizer_classes", "register_recognizer"]


def register_recognizer(cls: R) -> R:
    """Class decorator: the analyzer builds `cls` whenever its `CLASS` is configured."""
    name = cls.__name__
    if _REGISTRY.get(name, cls) is not cls:
        raise ValueError(f"recognizer {name!r} registered twice ({_REGISTRY[name].__module__}, {cls.__module__})")
    if not any(vars(cls.TRIGGERS).values()):
        raise ValueError(f"recognizer {name!r} declares no TRIGGERS: the prefilter would never show it a match")
    _REGISTRY[name] = cls
    return cls


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def recognizer_classes() -> list[type[CodePatternRecognizer]]:
    """Every registered recognizer, by name."""
    _load_all()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def build_recognizers(cfg: PiiConfig) -> list[EntityRecognizer]:
    wanted = set(cfg.classes)
    recognizers: list[EntityRecognizer] = [cls.from_config(cfg) for cls in recognizer_classes() if cls.CLASS in wanted]
    if "name" in wanted and cfg.ner_model is None:
        logger.info("class 'name' needs a local NER model (ner_model); names are not detected")
    elif cfg.ner_model is not None:
        ner = load_ner_recognizer(cfg.ner_model, {c: CLASS_TO_ENTITY[c] for c in cfg.classes})
        if ner is not None:
            recognizers.append(ner)
    return recognizers
