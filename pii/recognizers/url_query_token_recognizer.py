"""Tokens and keys in URL query strings: `?token=...`, `&api_key=...`, `&sig=...`.

Webhook and API URLs carry their credential as a parameter (`?token=`, `?access_token=`,
`?api_key=`, `?apikey=`, `?client_secret=`, `?key=`), and signed URLs their signature (Azure
SAS `&sig=`, S3 presigned `X-Amz-Signature=`, `Signature=`), which grants access until it
expires. The value runs to the next `&`, `#`, quote or space; it must look like a secret by the
rules of an assigned secret (key_recognizer.secret_value_ok: `min_secret_length` characters,
random-looking, not a UUID, template, fixture or URL).

Ignored: parameters whose name says they hold no secret (`page_token`, `next_token`,
`csrf_token`, `token_type`...: key_recognizer's name rules).
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers
from pii.recognizers.key_recognizer import NOT_SECRET_NAME, secret_value_ok

QUERY_TOKEN_PATTERN = (
    r"(?i)(?:[?&]|&amp;)(?P<name>[\w.\-]{0,30}(?:token|secret|api[_\-]?key|access[_\-]?key|private[_\-]?key|"
    r"signature|sig)|key)=(?P<value>[A-Za-z0-9%._~+/=\-]{8,512}+)"
)


@register_recognizer
class UrlQueryTokenRecognizer(CodePatternRecognizer):
    CLASS = "key"
    # literals, found with str.find (a regex opening with `[?&;]` would cost a pass at ~50 MB/s)
    TRIGGERS = Triggers(words=("token=", "secret=", "?key=", "&key=", ";key=", "sig=", "signature="))
    CONFIG = ("fake_markers", "ignore_uuids", "min_secret_length", "min_entropy_ratio")

    def __init__(self, fake_markers: list[str] = (), ignore_uuids: bool = True, min_secret_length: int = 16,
                 min_entropy_ratio: float = 0.8):
        super().__init__([Pattern("url_query_token", QUERY_TOKEN_PATTERN, 0.7)], context=["token", "key", "url"])
        self.fake_markers = [m.lower() for m in fake_markers]
        self.ignore_uuids = ignore_uuids
        self.min_secret_length = min_secret_length
        self.min_entropy_ratio = min_entropy_ratio

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        name = match.group("name")
        if NOT_SECRET_NAME.search(name):
            return False
        return secret_value_ok(text[start:end], self.fake_markers, self.ignore_uuids, self.min_secret_length,
                               self.min_entropy_ratio)
