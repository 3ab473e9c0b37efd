"""Redaction: StarCoder's placeholders in place of each finding, and an audit record of it.

Placeholders (`<EMAIL>`, `<KEY>`, `<PASSWORD>`, `<NAME>`) follow bigcode-dataset's
`pii/utils/replacements.py`; IP addresses become one of a few synthetic private addresses,
chosen by a stable hash of the original so one address maps to one replacement across files
(and redacting twice changes nothing: the replacements are private, hence never flagged).
Spans never cross a quote or a line end (the recognizers exclude them), so a Python file that
parsed before still parses after. The `Redaction` record keeps class, span and file, never
the value.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from pii.analyzer import Finding, PiiAnalyzer, scan_text
from pii.config import PiiConfig


@dataclass(frozen=True)
class Redaction:
    """Audit record of one replaced span (offsets and line in the original text)."""

    cls: str
    start: int
    end: int
    line: int
    recognizer: str
    path: str | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "class": self.cls, "start": self.start, "end": self.end, "line": self.line,
                "recognizer": self.recognizer}


def replacement(cls: str, value: str, config: PiiConfig) -> str:
    if cls == "ip_address":
        try:
            version = ipaddress.ip_address(value).version
        except ValueError:
            version = 6 if ":" in value else 4
        choices = config.ip_replacements_v6 if version == 6 else config.ip_replacements_v4
        digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
        return choices[int.from_bytes(digest, "big") % len(choices)]
    return config.placeholders.get(cls, f"<{cls.upper()}>")


def redact_text(text: str, findings: list[Finding] | None = None, path: str | None = None,
                config: PiiConfig | None = None,
                analyzer: PiiAnalyzer | None = None) -> tuple[str, list[Redaction]]:
    """`text` with every finding replaced, and one `Redaction` per replacement.

    Findings default to `scan_text(text, path)` (with `analyzer` or `config` if given).
    """
    config = analyzer.config if analyzer is not None else (config or PiiConfig())
    if findings is None:
        findings = analyzer.analyze(text, path) if analyzer is not None else scan_text(text, path, config)
    parts: list[str] = []
    redactions: list[Redaction] = []
    pos, line = 0, 1
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:  # overlapping input: the earlier finding already covers it
            continue
        line += text.count("\n", pos, f.start)
        parts.append(text[pos:f.start])
        parts.append(replacement(f.cls, text[f.start:f.end], config))
        redactions.append(Redaction(f.cls, f.start, f.end, line, f.recognizer, path))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), redactions
