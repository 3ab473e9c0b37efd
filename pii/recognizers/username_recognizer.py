"""Usernames in credentials: the user of `scheme://user:password@host` and the `User Id=` /
`Uid=` / `user=` of a connection string that also carries a password.

A username alone (`username = "jdoe"` in a form test) is not flagged: StarCoder's annotators
counted usernames only beside the secret they unlock. Ignored: service and placeholder
accounts (`root`, `postgres`, `sa`, `user`...), templated values, fixtures marked fake.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, line_bounds
from pii.recognizers.password_recognizer import is_documentation_host, is_placeholder
from pii.recognizers.url_credentials_recognizer import URL_CREDENTIALS_PATTERN, URL_CREDENTIALS_TRIGGER

URL_USER_PATTERN = URL_CREDENTIALS_PATTERN.replace("(?P<user>", "(?P<value>").replace("(?P<value>[^@", "(?P<pw>[^@")
CONNECTION_USER_PATTERN = (
    r"(?i)(?:^|(?<=[;\"'\s]))(?:user id|userid|uid|user|username|user name)\s*=\s*(?P<value>[^;\"'\s,()=]{1,64}+)(?=;|[\"']|\s|$)"
)
_PASSWORD_NEAR = re.compile(r"(?i)\b(?:password|pwd)\s*=\s*[^;\"'\s]")


@register_recognizer
class UsernameRecognizer(CodePatternRecognizer):
    CLASS = "username"
    # the URL's userinfo, or the password a connection string's user must stand beside
    TRIGGERS = Triggers(patterns=(URL_CREDENTIALS_TRIGGER,), words=("passw", "pwd"))
    CONFIG = ("ignore_usernames", "fake_markers", "ignore_email_domains")

    def __init__(self, ignore_usernames: list[str] = (), fake_markers: list[str] = (),
                 ignore_email_domains: list[str] = ()):
        super().__init__([Pattern("url_credentials", URL_USER_PATTERN, 0.7),
                          Pattern("connection_string", CONNECTION_USER_PATTERN, 0.7)],
                         context=["user", "username", "login"])
        self.ignore = frozenset(u.lower() for u in ignore_usernames)
        self.fake_markers = [m.lower() for m in fake_markers]
        self.ignore_domains = tuple(d.lower() for d in ignore_email_domains)

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        value = text[start:end]
        if value.lower() in self.ignore or is_placeholder(value, self.fake_markers):
            return False
        if match.re.pattern == URL_USER_PATTERN:
            return not (is_placeholder(match.group("pw"), self.fake_markers)
                        or is_documentation_host(match.group("host"), self.ignore_domains))
        lo, hi = line_bounds(text, start, end, limit=300)
        return bool(_PASSWORD_NEAR.search(text, lo, hi))
