"""Hugging Face access tokens: `hf_` and 34 letters (user tokens), `api_org_` and 34 letters
(organisation tokens), the shapes of gitleaks' `huggingface-access-token` and
`huggingface-organization-api-token` rules; detect-secrets has no plugin for them.

Ignored: fixtures marked fake (`hf_xxxx...`, `hf_dummy...`) and letter runs that do not look
random (a word repeated, one letter 34 times).
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, contains_marker
from pii.recognizers.key_recognizer import entropy_ratio

HF_TOKEN_PATTERN = r"(?<![A-Za-z0-9_])(?P<value>(?:hf_|api_org_)(?P<secret>[A-Za-z]{34}))(?![A-Za-z0-9_])"


@register_recognizer
class HuggingFaceTokenRecognizer(CodePatternRecognizer):
    CLASS = "key"
    TRIGGERS = Triggers(patterns=(r"hf_[A-Za-z]{34}", r"api_org_[A-Za-z]{34}"))  # literal-led: ~1 GB/s
    CONFIG = ("fake_markers",)

    def __init__(self, fake_markers: list[str] = ()):
        super().__init__([Pattern("huggingface_token", HF_TOKEN_PATTERN, 0.9)],
                         context=["hf", "huggingface", "token"])
        self.fake_markers = [m.lower() for m in fake_markers]

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        secret = match.group("secret")
        return not contains_marker(secret, self.fake_markers) and entropy_ratio(secret) >= 0.8
