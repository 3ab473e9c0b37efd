"""Passwords in JDBC code and URLs that no other syntax covers.

- Oracle's thin and OCI drivers put the credentials before the host:
  `jdbc:oracle:thin:scott/tiger@//db:1521/ORCL`;
- `DriverManager.getConnection(url, "user", "password")`: the third argument, a string literal;
- `props.setProperty("password", "...")` / `props.put("password", "...")`: the `Properties`
  handed to `getConnection` (and `.set(...)` of JavaScript config maps).

JDBC URLs with `?user=...&password=...` (MySQL, MariaDB, PostgreSQL) are
url_query_password_recognizer's, `;password=...` (SQL Server) connection_string_recognizer's,
and `jdbc:mysql://user:password@host` url_credentials_recognizer's.

Ignored: placeholders (password_recognizer.is_placeholder), documentation values, a password
equal to its user.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers
from pii.recognizers.password_recognizer import password_value_ok

ORACLE_URL_PATTERN = (
    r"(?i)\bjdbc:oracle:(?:thin|oci8?|kprb):(?P<user>[\w$#.\-]{1,64}+)/(?P<value>[^@\s\"'/\\]{1,128}+)@"
)
GET_CONNECTION_PATTERN = (
    r"\bgetConnection\(\s*[^,()\n]{1,200}?,\s*\"(?P<user>[^\"\n\\]{0,64})\"\s*,\s*\"(?P<value>[^\"\s\\]{1,128}+)\"\s*\)"
)
SET_PROPERTY_PATTERN = (
    r"\.(?:setProperty|put|set)\(\s*[\"'](?i:password|passwd|pwd)[\"']\s*,\s*"
    r"(?P<q>[\"'])(?P<value>[^\"'\s\\]{1,128}+)(?P=q)\s*\)"
)


@register_recognizer
class JdbcRecognizer(CodePatternRecognizer):
    CLASS = "password"
    TRIGGERS = Triggers(words=("jdbc:oracle:", "getconnection(", "passw", "pwd"))
    CONFIG = ("fake_markers",)

    def __init__(self, fake_markers: list[str] = ()):
        super().__init__([Pattern("jdbc_oracle_url", ORACLE_URL_PATTERN, 0.8),
                          Pattern("jdbc_get_connection", GET_CONNECTION_PATTERN, 0.8),
                          Pattern("jdbc_properties", SET_PROPERTY_PATTERN, 0.8)],
                         context=["jdbc", "password", "connection"])
        self.fake_markers = [m.lower() for m in fake_markers]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        return password_value_ok(text[start:end], self.fake_markers, match.groupdict().get("user"))
