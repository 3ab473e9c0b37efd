"""Passwords in keyword connection strings: `Password=...;` / `Pwd=...` of ADO.NET, ODBC,
OLE DB and JDBC SQL Server (`;`-separated), and libpq's `password=...` (space-separated).

A `password=` or `pwd=` counts only on a line that also names a server, host, user or
database (`Server=`, `Data Source=`, `Uid=`, `host=`, `dbname=`...): a lone `pwd=` is too
often something else.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, line_bounds
from pii.recognizers.password_recognizer import password_value_ok

CONNECTION_STRING_PATTERN = (
    r"(?i)(?:^|(?<=[;\"'\s]))(?:password|pwd)\s*=\s*(?P<value>[^;\"'\s,()]{1,128}+)(?=;|[\"']|\s|$)"
)
_CONNECTION_CONTEXT = re.compile(
    r"(?i)\b(?:server|data source|host|hostname|user id|userid|uid|user|database|dbname|initial catalog|port)\s*=")


@register_recognizer
class ConnectionStringRecognizer(CodePatternRecognizer):
    CLASS = "password"
    TRIGGERS = Triggers(words=("passw", "pwd"))
    CONFIG = ("fake_markers",)

    def __init__(self, fake_markers: list[str] = ()):
        super().__init__([Pattern("connection_string", CONNECTION_STRING_PATTERN, 0.8)],
                         context=["password", "pwd", "connection"])
        self.fake_markers = [m.lower() for m in fake_markers]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        lo, hi = line_bounds(text, start, end, limit=300)
        if not _CONNECTION_CONTEXT.search(text, lo, hi):
            return False
        return password_value_ok(text[start:end], self.fake_markers)
