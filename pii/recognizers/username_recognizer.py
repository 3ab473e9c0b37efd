"""Usernames in credentials: the user of `scheme://user:password@host` and of Oracle's
`jdbc:oracle:thin:user/password@`, and the `User Id=` / `Uid=` / `user=` of a connection string
or URL query (`?user=...&password=...`) that also carries a password that is not a placeholder.

A username alone (`username = "jdoe"` in a form test) is not flagged: StarCoder's annotators
counted usernames only beside the secret they unlock. Ignored: service and placeholder
accounts (`root`, `postgres`, `sa`, `user`...), templated values, fixtures marked fake.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, line_bounds
from pii.recognizers.jdbc_recognizer import ORACLE_URL_PATTERN
from pii.recognizers.password_recognizer import is_documentation_host, is_placeholder
from pii.recognizers.url_credentials_recognizer import URL_CREDENTIALS_PATTERN, URL_CREDENTIALS_TRIGGER

URL_USER_PATTERN = URL_CREDENTIALS_PATTERN.replace("(?P<user>", "(?P<value>").replace("(?P<value>[^@", "(?P<pw>[^@")
ORACLE_USER_PATTERN = ORACLE_URL_PATTERN.replace("(?P<value>", "(?P<pw>").replace("(?P<user>", "(?P<value>")
CONNECTION_USER_PATTERN = (
    r"(?i)(?:^|(?<=[;\"'\s?&]))(?:user id|userid|uid|user|username|user name)\s*=\s*"
    r"(?P<value>[^;\"'\s,()=&]{1,64}+)(?=[;&]|[\"']|\s|$)"
)
_PASSWORD_NEAR = re.compile(r"(?i)\b(?:password|pwd)\s*=\s*(?:'(?P<quoted>[^'\n]*)'|\{(?P<braced>[^}\n]*)\}|"
                            r"(?P<bare>[^;\"'\s&#]+))")


@register_recognizer
class UsernameRecognizer(CodePatternRecognizer):
    CLASS = "username"
    # the URL's userinfo, or the password a connection string's user must stand beside
    TRIGGERS = Triggers(patterns=(URL_CREDENTIALS_TRIGGER,), words=("passw", "pwd", "jdbc:oracle:"))
    CONFIG = ("ignore_usernames", "fake_markers", "ignore_email_domains")

    def __init__(self, ignore_usernames: list[str] = (), fake_markers: list[str] = (),
                 ignore_email_domains: list[str] = ()):
        super().__init__([Pattern("url_credentials", URL_USER_PATTERN, 0.7),
                          Pattern("jdbc_oracle_url", ORACLE_USER_PATTERN, 0.7),
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
        if match.re.pattern == ORACLE_USER_PATTERN:
            return not is_placeholder(match.group("pw"), self.fake_markers)
        lo, hi = line_bounds(text, start, end, limit=300)
        for m in _PASSWORD_NEAR.finditer(text, lo, hi):
            password = next((g for g in m.groups() if g), "")
            prose = " " in password and password.replace(" ", "").isalpha()  # `password='not set yet'`
            if password and not prose and not is_placeholder(password, self.fake_markers):
                return True
        return False
