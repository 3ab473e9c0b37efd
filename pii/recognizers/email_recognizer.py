"""E-mail addresses in code: comments, author fields, string literals, config values.

Shape after presidio's `generic/email_recognizer.py`, made stricter for code: the top-level
domain must be a real one (so `a@self.weights`, `icon@2x.png` and `pkg@1.2.0` are not
addresses), and `user:password@host` in a URL is a credential (see password_recognizer), not
an address. Ignored: documentation domains (example.com/.org, RFC 2606 TLDs), `noreply`
addresses and role accounts like `git@github.com`, message-ids (`<uuid@host>`), values marked
fake (all configurable), placeholders whose local part repeats the domain (`two@two.org`) or
pairs metasyntactic words (`foo@bar.com`), and the `password@host` of a scheme-less
`user:password@host`.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, contains_marker

# Generic TLDs seen in real addresses; every two-letter ccTLD is accepted too, except those
# that are also common file extensions (`foo@bar.py` is a path, not Paraguay).
GENERIC_TLDS = frozenset("""
com org net edu gov mil int info biz name pro mobi aero coop museum jobs travel io dev app ai
co me xyz tech online site email cloud mail systems solutions software digital network agency
company center studio science academy institute university consulting services group global
life live world today news blog design media page space zone one top club work works codes
""".split())
FILE_EXTENSION_TLDS = frozenset("py js ts rs md sh cc hh cs hs ml jl kt sc ps so mo rb pl pm gz xz".split())
RESERVED_TLDS = ("example", "test", "invalid", "localhost", "local", "internal", "lan")

EMAIL_PATTERN = (
    r"(?<![\w.%+\-/$])"
    r"(?P<value>[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})"
    r"(?![\w\-@]|\.[A-Za-z0-9])"
)
# Message-IDs (`<uuid@host>`, `<hex@host>`) name a message, not a person.
_MESSAGE_ID_LOCAL = re.compile(r"(?i)[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{16,}|.*-[0-9A-F]{6}\.\d{10,}")
_URL_USERINFO = re.compile(r"://[^\s/@\"'<>]*:[^\s/@\"'<>]*$")
# `user:password@host` without a scheme (http.client's tests, `git` remotes): userinfo too,
# unless the word before the colon labels the address (`mailto:`, `Email:`).
_BARE_USERINFO = re.compile(r"(?<![^\s\"'(<\[,=])([\w.\-+%]+):$")
_ADDRESS_LABELS = frozenset("mailto email e-mail mail to from cc bcc reply-to sender contact author maintainer "
                            "by at".split())
# Placeholders in docs and tests: the local part repeats the domain (`two@two.org`,
# `xx@xx.dk`), or both are metasyntactic (`foo@bar.com`).
_METASYNTACTIC = frozenset("foo bar baz qux quux spam eggs ham".split())


@register_recognizer
class EmailRecognizer(CodePatternRecognizer):
    CLASS = "email"
    TRIGGERS = Triggers(patterns=(r"@[A-Za-z0-9\-]+\.[A-Za-z]",))
    CONFIG = ("ignore_email_domains", "ignore_email_local_parts", "fake_markers")

    def __init__(self, ignore_email_domains: list[str] = (), ignore_email_local_parts: list[str] = (),
                 fake_markers: list[str] = ()):
        super().__init__([Pattern("email", EMAIL_PATTERN, 0.9)],
                         context=["email", "mail", "author", "maintainer", "contact"])
        self.ignore_domains = tuple(d.lower() for d in ignore_email_domains)
        self.ignore_local_parts = frozenset(p.lower() for p in ignore_email_local_parts)
        self.fake_markers = [m.lower() for m in fake_markers if m not in ("your-", "your_")]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        value = text[start:end].lower()
        local, _, domain = value.rpartition("@")
        tld = domain.rsplit(".", 1)[-1]
        if tld in FILE_EXTENSION_TLDS or not (len(tld) == 2 or tld in GENERIC_TLDS):
            return False
        if tld in RESERVED_TLDS or any(domain == d or domain.endswith("." + d) for d in self.ignore_domains):
            return False
        if local in self.ignore_local_parts or "noreply" in value or "no-reply" in value:
            return False
        if contains_marker(local, self.fake_markers) or _MESSAGE_ID_LOCAL.fullmatch(local):
            return False
        label = domain.split(".", 1)[0]
        if local == label or local in _METASYNTACTIC and label in _METASYNTACTIC:
            return False
        # `scheme://user:secret@host`: the part before @ is a password, not a mailbox.
        if _URL_USERINFO.search(text, max(0, start - 200), start):
            return False
        userinfo = _BARE_USERINFO.search(text[max(0, start - 65):start])
        return not (userinfo and userinfo.group(1).lower() not in _ADDRESS_LABELS)
