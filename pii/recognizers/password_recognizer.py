"""Passwords in assignments, config values, command lines and `.netrc`; the placeholder rules
every password recognizer shares.

bigcode's pipeline found none (it disabled detect-secrets' KeywordDetector and
BasicAuthDetector as too noisy); these patterns add the code context those plugins lack:

- assignments, keyword arguments, JSON/YAML/INI/.env values under a password-like name
  (`password`, `passwd`, `passphrase`, `pwd`, `db_pass`): quoted anywhere, bare at the end of
  a config line;
- command lines and tool files: `PGPASSWORD=... psql`, `--password=...`, `mysql -p'...'`,
  `.netrc`'s `machine h login u password p`.

Passwords in URLs and driver connection strings have recognizers of their own, one file per
syntax: url_credentials_recognizer (`scheme://user:password@host`), url_query_password_recognizer
(`?password=`), connection_string_recognizer (ODBC, ADO.NET, libpq keywords), jdbc_recognizer.

Ignored: empty, masked or templated values (`***`, `${DB_PASSWORD}`, `%(password)s`,
`{password}`, `<password>`), values naming themselves or another secret (`"password"`,
`mynewpassword`, the `token` of `gist://username:token@id`), regular expressions, fixtures marked fake,
identifiers and calls (`password = get_password()`), paths (`pwd = "/home/me"`), prose with
spaces (`"Enter password:"`), and names that hold no password (`password_hash`,
`password_min_length`, `PASSWORD_RESET_URL`).
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, contains_marker

PASSWORD_NAME = r"(?:password|passwd|passphrase|passwort|pwd|(?<![A-Za-z])pass(?![A-Za-z]))"
ASSIGNED_PASSWORD_PATTERN = (
    rf"(?im)(?<![\w.\-])(?P<name>[\w.\-]{{0,40}}{PASSWORD_NAME}[\w.\-]{{0,40}})[\"'\]]?\s*(?::=|=>|=|:)[ \t]*"
    r"(?:[rbuf]?(?P<q>[\"'])(?P<value>[^\"'\s\\]{3,128}+)(?P=q)|(?P<bare>[^\s\"'#;,(){}\[\]]{3,128}+)[ \t\r]*(?:#.*)?$)"
)
# Shell forms: `PGPASSWORD=... psql`, `--password=...`, `mysql -u u -p'...'`.
COMMAND_LINE_PATTERN = (
    r"(?:(?:^|(?<=[\s;`]))[A-Z_]*PASSWORD=|(?<![\w\-])--password[= ]|\bmysql(?:dump|admin)?\b[^\n]{0,80}?\s-p)"
    r"(?:(?P<q>[\"'])(?P<value>[^\"'\s]{3,128}+)(?P=q)|(?P<bare>[^\s\"';&|]{3,128}+))"
)
# `.netrc`: no shell around it, so `&` and `;` are part of the password.
NETRC_PATTERN = r"\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?P<value>\S{3,128}+)"
# Names that hold something about a password, not one: matched against the name's words
# (split at `_`, `.`, `-` and camelCase), so `admin_pass` is not rejected for "min".
NOT_PASSWORD_WORDS = frozenset(
    "hash hashed hasher salt length len field label prompt hint regex pattern policy validator validation "
    "reset forgot url uri path file env var help message msg error text column attr name type input widget "
    "min max strength expiry expires expiration change manager mode flag enabled required placeholder template "
    "form view encoder confirm confirmation verify check rule score count timeout retry retries attempts "
    "storage store backend cmd command option options rounds iterations algorithm algo chars state last "
    "used status".split())
NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_TEMPLATED = re.compile(r"\$\{|\{\{|\}\}|%\(|^%s$|^<.*>$|^\$\w|\{\w*\}|^\*+$|^\.+$|^\?+$|^x+$", re.IGNORECASE)
_CALL_OR_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*(?:\(.*)?|[A-Za-z_]\w*\.\w[\w.]*")
_NAMED_VALUES = frozenset(
    "password passwd pass pwd secret none null nil true false required optional hidden empty "
    "string str undefined default unset masked redacted yes no on off enabled disabled options "
    "token key apikey api_key passphrase credential credentials".split())
# Values that name a password rather than being one: `mypassword`, `MyNewPassword` (AWS examples).
_PASSWORD_WORDS = re.compile(r"(?:my|your|new|old|the|some|secret|super|strong|db|admin|user)*"
                             r"(?:password|passwd|pwd|pass|secret)")
# A regular expression, not a value: detect-secrets' own `(?:key|pwd|password|pass|token)`.
_REGEX_LIKE = re.compile(r"\(\?[:=!<P]|\\[dswbDSWB]")


_FORMAT_ONLY = re.compile(r"(?:%[sdr]|[^A-Za-z0-9])+")
_SNAKE_WORDS = re.compile(r"[a-z]+(?:_[a-z]+)+")


def is_placeholder(value: str, fake_markers: list[str]) -> bool:
    low = value.lower()
    return (low in _NAMED_VALUES or bool(_TEMPLATED.search(value)) or contains_marker(value, fake_markers)
            or bool(_FORMAT_ONLY.fullmatch(value)) or bool(_PASSWORD_WORDS.fullmatch(low))
            or bool(_REGEX_LIKE.search(value))
            or low.startswith(("os.", "env.", "process.env", "settings.", "config.", "self.")))


def is_documentation_host(host: str, ignore_domains: tuple[str, ...]) -> bool:
    """`user:pass@db.example.com` documents a URL shape; it unlocks nothing."""
    host = host.lower()
    return host.rsplit(".", 1)[-1] in ("example", "test", "invalid", "localhost") or any(
        host == d or host.endswith("." + d) for d in ignore_domains)


def password_value_ok(value: str, fake_markers: list[str], *names: str | None) -> bool:
    """The rules every password recognizer ends with: at least 3 characters, not an identifier
    or status (`not_supported`), not a placeholder, not the name it is given to or its user."""
    if _SNAKE_WORDS.fullmatch(value):
        return False  # an identifier or a status, not a password: `"not_supported"`
    return len(value) >= 3 and not is_placeholder(value, fake_markers) and value.lower() not in {
        n.lower() for n in names if n}


PASSWORD_WORDS = ("passw", "pwd", "passphrase", "_pass", "pass_", "pass\"", "pass'", "pass:", "pass =")
"""Prefilter words of a password-like name (lower case)."""


@register_recognizer
class PasswordRecognizer(CodePatternRecognizer):
    CLASS = "password"
    TRIGGERS = Triggers(words=(*PASSWORD_WORDS, "mysql"))
    CONFIG = ("fake_markers",)

    def __init__(self, fake_markers: list[str] = ()):
        super().__init__([Pattern("assigned_password", ASSIGNED_PASSWORD_PATTERN, 0.7),
                          Pattern("command_line", COMMAND_LINE_PATTERN, 0.7),
                          Pattern("netrc", NETRC_PATTERN, 0.7)],
                         context=["password", "passwd", "pwd", "credentials"])
        self.fake_markers = [m.lower() for m in fake_markers]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        pattern = match.re.pattern
        if pattern == ASSIGNED_PASSWORD_PATTERN:
            value = match.group("value") or match.group("bare")
            name = match.group("name")
            words = {w.lower() for w in NAME_WORDS.findall(name)}
            if words & NOT_PASSWORD_WORDS or value.startswith(("/", "./", "~/", "$")):
                return False
            if words == {"pass"} and value.isalpha():
                return False  # a bare `pass` key is ambiguous (`'pass': 'bandpass'`): want a non-letter
            if match.group("bare") is not None and (_CALL_OR_IDENTIFIER.fullmatch(value) and not re.search(r"\d", value)):
                return False
            if match.group("bare") is not None and value.isdigit() and len(value) < 6:
                return False  # `password_rounds: 12`-like numbers
        elif pattern == COMMAND_LINE_PATTERN:
            value = match.group("value") or match.group("bare")
            if value.startswith(("$", "-", "<", "{")) or match.group("bare") is not None and value.isalpha():
                return False  # `--password $PW`, `--password=<pw>`, a following flag, prose
        else:  # NETRC_PATTERN
            value = text[start:end]
        return password_value_ok(value, self.fake_markers, match.groupdict().get("name"))
