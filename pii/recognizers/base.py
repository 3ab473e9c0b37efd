"""`CodePatternRecognizer`: a presidio `PatternRecognizer` that sees the code around a match and
declares what the analyzer needs to use it.

presidio's `validate_result` receives the matched text alone; in code the verdict depends on
what surrounds it (the name a string is assigned to, a `version` on the same line, the URL a
password sits in). Subclasses list presidio `Pattern`s whose regex may name a group `value`
(or `bare`, for unquoted config values: the span reported; the whole match otherwise) and
implement `accept(text, match, start, end)`.

Each subclass also declares, as class attributes, everything the analyzer reads from it:
`CLASS` (ours; the presidio entity follows from it), `TRIGGERS` (what the prefilter looks for:
each match must have one on its line), `CONFIG` (the `PiiConfig` fields it takes, passed as
keyword arguments of the same names) and `LOCK_FILE_NOISE` (pattern names whose findings are
package hashes in lock files). `@register_recognizer` (pii/recognizers/__init__.py) adds it to
the set; nothing else lists it.

Patterns run with the standard `re` module (Python 3.11 possessive quantifiers keep them
linear), not presidio's `regex` module with a per-call timeout: the analyzer bounds every call
by `batch_chars` instead, and `re` is several times faster on code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from pii.config import CLASSES

PATTERN_NAME_KEY = "pattern_name"
CLASS_TO_ENTITY = {c: "EMAIL_ADDRESS" if c == "email" else c.upper() for c in CLASSES}
"""Our class -> presidio entity: its upper-case name, and presidio's own `EMAIL_ADDRESS`."""
ENTITY_TO_CLASS = {e: c for c, e in CLASS_TO_ENTITY.items()}


@dataclass(frozen=True)
class Triggers:
    """What the analyzer's prefilter looks for on behalf of a recognizer. Python's `re` finds a
    pattern that opens with a literal at ~1 GB/s but a case-insensitive alternation at ~10
    MB/s, and `str.find` is faster still: so each is cheap on its own."""

    patterns: tuple[str, ...] = ()
    """Literal-led regexes, run on the text."""
    lower_patterns: tuple[str, ...] = ()
    """Regexes run on the ASCII-lowercased text."""
    prefixes: tuple[str, ...] = ()
    """Case-sensitive literals (token prefixes: `ghp_`, `AKIA`)."""
    words: tuple[str, ...] = ()
    """Lower-case literals found in the ASCII-lowercased text (`passw`, `token`)."""


def line_bounds(text: str, start: int, end: int, limit: int = 400) -> tuple[int, int]:
    """Start and end of the line(s) holding [start, end), at most `limit` characters either side."""
    lo = text.rfind("\n", max(0, start - limit), start) + 1 or max(0, start - limit)
    hi = text.find("\n", end, end + limit)
    if hi < 0:
        hi = min(len(text), end + limit)
    return lo, hi


def contains_marker(value: str, markers: list[str]) -> bool:
    low = value.lower()
    return any(m in low for m in markers)


class CodePatternRecognizer(PatternRecognizer):
    CLASS: ClassVar[str] = ""
    """Our PII class (one of `pii.config.CLASSES`): built when the config asks for it."""
    ENTITY: ClassVar[str] = ""
    """presidio's entity name, derived from `CLASS`."""
    TRIGGERS: ClassVar[Triggers] = Triggers()
    CONFIG: ClassVar[tuple[str, ...]] = ()
    """`PiiConfig` fields this recognizer takes, as keyword arguments of the same names."""
    LOCK_FILE_NOISE: ClassVar[frozenset[str]] = frozenset()
    """Pattern names whose findings in lock files (`lock_files`) are package hashes."""

    def __init__(self, patterns: list[Pattern], context: list[str] | None = None):
        super().__init__(supported_entity=self.ENTITY, name=type(self).__name__, patterns=patterns,
                         context=context, global_regex_flags=0)
        self._compiled = [(p, re.compile(p.regex)) for p in self.patterns]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.CLASS not in CLASS_TO_ENTITY:
            raise TypeError(f"{cls.__name__}.CLASS = {cls.CLASS!r}: not one of {', '.join(CLASSES)}")
        cls.ENTITY = CLASS_TO_ENTITY[cls.CLASS]

    @classmethod
    def from_config(cls, config: Any) -> CodePatternRecognizer:
        """The recognizer with its `CONFIG` fields taken from `config` (a `PiiConfig`)."""
        return cls(**{name: getattr(config, name) for name in cls.CONFIG})

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        """Context-aware `validate_result`: False rejects the candidate."""
        return self.validate_result(text[start:end]) is not False

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        results = []
        for pattern, regex in self._compiled:
            for match in regex.finditer(text):
                for group in ("value", "bare"):
                    if group in regex.groupindex and match.group(group) is not None:
                        start, end = match.span(group)
                        break
                else:
                    start, end = match.span()
                if start == end or not self.accept(text, match, start, end):
                    continue
                results.append(RecognizerResult(
                    entity_type=self.ENTITY, start=start, end=end, score=pattern.score,
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                                          PATTERN_NAME_KEY: pattern.name}))
        return results
