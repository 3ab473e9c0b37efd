"""`CodePatternRecognizer`: a presidio `PatternRecognizer` that sees the code around a match.

presidio's `validate_result` receives the matched text alone; in code the verdict depends on
what surrounds it (the name a string is assigned to, a `version` on the same line, the URL a
password sits in). Subclasses list presidio `Pattern`s whose regex may name a group `value`
(or `bare`, for unquoted config values: the span reported; the whole match otherwise) and implement `accept(text, match, start, end)`.

Patterns run with the standard `re` module (Python 3.11 possessive quantifiers keep them
linear), not presidio's `regex` module with a per-call timeout: the analyzer bounds every call
by `batch_chars` instead, and `re` is several times faster on code.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

PATTERN_NAME_KEY = "pattern_name"


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
    ENTITY = ""

    def __init__(self, patterns: list[Pattern], context: list[str] | None = None):
        super().__init__(supported_entity=self.ENTITY, name=type(self).__name__, patterns=patterns,
                         context=context, global_regex_flags=0)
        self._compiled = [(p, re.compile(p.regex)) for p in self.patterns]

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
