"""Passwords in keyword connection strings: `Password=...;` / `Pwd=...` of ADO.NET, ODBC,
OLE DB and JDBC SQL Server (`;`-separated), and libpq's `password=...` (space-separated).

Quoting as the drivers read it: ODBC's braces (`Pwd={p;ss}`, `}}` for a literal brace),
single quotes (ADO.NET's `Password='p;ss'`, `''` for a quote; libpq's `password='p ss'`,
`\\'` for one). A braced value that could be a format field (`Pwd={password}`, `{0}`,
`{cfg.pwd}`: a name without digits) is a template, not a password.

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
# ODBC: `{...}` with `}}` for a literal `}`.
BRACED_PASSWORD_PATTERN = (
    r"(?i)(?:^|(?<=[;\"'\s]))(?:password|pwd)\s*=\s*\{(?P<value>(?:[^}\n]|\}\}){1,128}+)\}(?=;|[\"']|\s|$)"
)
# ADO.NET (`''` escapes a quote) and libpq (`\'`): single quotes, spaces and `;` allowed inside.
QUOTED_PASSWORD_PATTERN = (
    r"(?i)(?:^|(?<=[;\"\s]))(?:password|pwd)\s*=\s*'(?P<value>(?:[^'\\\n]|''|\\.){1,128}+)'(?=;|[\"]|\s|$)"
)
# A format field, not an ODBC-quoted password: `{password}`, `{0}`, `{cfg.db_pwd}`, `{pw!r}`.
_FORMAT_FIELD = re.compile(r"\d*|[A-Za-z_][A-Za-z_.]*(?:\[\w*\])?(?:![rsa])?(?::[^{}]*)?")
_CONNECTION_CONTEXT = re.compile(
    r"(?i)\b(?:server|data source|host|hostname|user id|userid|uid|user|database|dbname|initial catalog|port)\s*=")


@register_recognizer
class ConnectionStringRecognizer(CodePatternRecognizer):
    CLASS = "password"
    TRIGGERS = Triggers(words=("passw", "pwd"))
    CONFIG = ("fake_markers",)

    def __init__(self, fake_markers: list[str] = ()):
        super().__init__([Pattern("connection_string", CONNECTION_STRING_PATTERN, 0.8),
                          Pattern("connection_string", BRACED_PASSWORD_PATTERN, 0.85),
                          Pattern("connection_string", QUOTED_PASSWORD_PATTERN, 0.85)],
                         context=["password", "pwd", "connection"])
        self.fake_markers = [m.lower() for m in fake_markers]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        lo, hi = line_bounds(text, start, end, limit=300)
        if not _CONNECTION_CONTEXT.search(text, lo, hi):
            return False
        if re.search(r"&(?:amp|#0*38|#x0*26);$", text[max(0, match.start() - 8):match.start()], re.I):
            return False  # `&amp;pwd=`: an HTML-escaped URL query (the URL query recognizer's), not a `;` key
        value = text[start:end]
        if match.re.pattern == BRACED_PASSWORD_PATTERN and _FORMAT_FIELD.fullmatch(value):
            return False
        if match.re.pattern == CONNECTION_STRING_PATTERN and value.startswith("{"):
            return False  # braced: the braced pattern reads it whole
        if match.re.pattern == QUOTED_PASSWORD_PATTERN and " " in value and re.fullmatch(r"[A-Za-z ]+", value):
            return False  # prose: `password='not set yet'`
        return password_value_ok(value, self.fake_markers)
