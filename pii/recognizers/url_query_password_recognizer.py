"""Passwords in URL query strings and form bodies: `?password=...`, `&pwd=...`.

The way JDBC drivers for MySQL, MariaDB and PostgreSQL take credentials
(`jdbc:mysql://host/db?user=app&password=...`), and MongoDB, AMQP, Snowflake and HTTP APIs
too; also `application/x-www-form-urlencoded` bodies (`grant_type=password&username=u&password=p`)
and HTML's `&amp;password=`. The value runs to the next `&`, `#`, `;`, quote or space.

Ignored: names that hold something about a password (`reset_password=1`, `password_min_length`,
the word list of password_recognizer), and placeholders (`${DB_PASSWORD}`, `<password>`,
`{password}`, `%s`, `changeme`, `xxx`: password_recognizer.is_placeholder).
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers
from pii.recognizers.password_recognizer import NAME_WORDS, NOT_PASSWORD_WORDS, password_value_ok

QUERY_PASSWORD_PATTERN = (
    r"(?i)(?:[?&]|&amp;)(?P<name>[\w.\-]{0,30}(?:password|passwd|passphrase|pwd)[\w.\-]{0,30}|pass)"
    r"=(?P<value>[^&#;\s\"'<>\\]{1,128}+)"
)


@register_recognizer
class UrlQueryPasswordRecognizer(CodePatternRecognizer):
    CLASS = "password"
    TRIGGERS = Triggers(words=("passw", "pwd", "pass="))
    CONFIG = ("fake_markers",)

    def __init__(self, fake_markers: list[str] = ()):
        super().__init__([Pattern("url_query_password", QUERY_PASSWORD_PATTERN, 0.8)],
                         context=["password", "url", "query"])
        self.fake_markers = [m.lower() for m in fake_markers]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        name = match.group("name")
        if {w.lower() for w in NAME_WORDS.findall(name)} & NOT_PASSWORD_WORDS:
            return False
        value = text[start:end]
        if name.lower() == "pass" and value.isalpha():
            return False  # `&pass=true`, `?pass=bandpass`: a bare `pass` wants a non-letter
        return password_value_ok(value, self.fake_markers, name)
