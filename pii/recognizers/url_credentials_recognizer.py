"""Passwords in a URL's userinfo: `scheme://user:password@host`.

detect-secrets BasicAuthDetector's shape. It covers every driver configured by URL:
PostgreSQL and MySQL (`postgresql://`, `mysql+pymysql://`, `jdbc:mysql://u:p@h`), MongoDB
(`mongodb://`, `mongodb+srv://`), AMQP (`amqp://`, `amqps://`), Redis (`redis://:password@host`
and `rediss://`: no user, the `default` user of Redis 6 ACLs and the only form before them),
SQLAlchemy, Celery brokers and HTTP basic auth.

Ignored: documentation hosts (`example.com`, `.test`, `localhost`), placeholders (the password
rules, password_recognizer.is_placeholder), a port read as a password (`host:8080@`), and a
password equal to its user.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers
from pii.recognizers.password_recognizer import is_documentation_host, password_value_ok

# The `user` group is also read by the username recognizer.
URL_CREDENTIALS_PATTERN = (
    r"(?<![\w+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://(?P<user>[^:/?#@\s\"'<>{}\[\]\\]{0,64}+)"
    r":(?P<value>[^@/?#\s\"'<>\\]{1,128}+)@(?P<host>[\w\-]+(?:\.[\w\-]+)*|\[)"
)
URL_CREDENTIALS_TRIGGER = r":[^\s/@\"'<>]{1,128}@"
"""`:password@`: the prefilter trigger of a URL's userinfo."""


@register_recognizer
class UrlCredentialsRecognizer(CodePatternRecognizer):
    CLASS = "password"
    TRIGGERS = Triggers(patterns=(URL_CREDENTIALS_TRIGGER,))
    CONFIG = ("fake_markers", "ignore_email_domains")

    def __init__(self, fake_markers: list[str] = (), ignore_email_domains: list[str] = ()):
        super().__init__([Pattern("url_credentials", URL_CREDENTIALS_PATTERN, 0.8)],
                         context=["password", "url", "dsn", "uri"])
        self.fake_markers = [m.lower() for m in fake_markers]
        self.ignore_domains = tuple(d.lower() for d in ignore_email_domains)

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        value, user = text[start:end], match.group("user")
        if is_documentation_host(match.group("host"), self.ignore_domains):
            return False
        if value.isdigit() and not user.isdigit() and len(value) <= 5 and "." in user:
            return False  # `host:8080@`-style, a port not a password
        return password_value_ok(value, self.fake_markers, user)
