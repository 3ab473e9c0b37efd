"""Secrets and keys: service tokens, private-key blocks, JWTs, high-entropy assignments.

Token shapes come from detect-secrets' plugins (their `denylist` regexes, reused as presidio
patterns rather than re-written): AWS, GitHub, GitLab, Slack, Stripe, OpenAI, SendGrid, PyPI,
Square, Discord, Telegram, Mailchimp, Twilio, Azure storage, IBM Cloud/COS, Softlayer,
Cloudant; JWTs pass detect-secrets' `JwtTokenDetector.is_formally_valid`. Added here: Google
API keys, npm tokens, the base64 body of PEM/OpenSSH private-key blocks (detect-secrets flags
only the BEGIN line; we redact the key material, keeping the armour), and any string of
`min_secret_length`+ characters assigned to a secret-looking name (`secret`, `token`,
`api_key`, ...) or sent in an `Authorization: token|Bearer ...` header, whose entropy is near the maximum for its length, the length-aware form of
detect-secrets' Base64/Hex HighEntropyString limits.

Ignored: values marked fake (`AKIAIOSFODNN7EXAMPLE`), UUIDs, templated values (`${TOKEN}`,
`{{ secret }}`, `%(key)s`), names that hold hashes or ids (`sha256`, `checksum`, `token_type`),
and, by path rule in the analyzer, high-entropy strings in lock files.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from presidio_analyzer import Pattern

from pii.recognizers.base import CodePatternRecognizer, contains_marker

# detect-secrets plugins whose whole match is the secret: wrapped so they start and end on a
# token boundary. Those with a keyword prefix report their first group (`value`).
_WHOLE_MATCH = [AWSKeyDetector.denylist[0], GitHubTokenDetector, GitLabTokenDetector, SlackDetector,
                StripeDetector, OpenAIDetector, SendGridDetector, PypiTokenDetector, SquareOAuthDetector,
                DiscordBotTokenDetector, TelegramBotTokenDetector, MailchimpDetector, TwilioKeyDetector]
_FIRST_GROUP = [AWSKeyDetector.denylist[1], CloudantDetector, IbmCloudIamDetector, IbmCosHmacDetector,
                SoftlayerDetector]


def _regexes(items) -> list[re.Pattern[str]]:
    out = []
    for item in items:
        out.extend([item] if isinstance(item, re.Pattern) else item.denylist)
    return out


def _inline_flags(regex: re.Pattern[str]) -> str:
    flags = "".join(f for f, bit in (("i", re.IGNORECASE), ("x", re.VERBOSE)) if regex.flags & bit)
    return f"(?{flags})" if flags else ""


def _with_value_group(pattern: str) -> str:
    """Name the first capturing group `value` (detect-secrets puts the secret there)."""
    return re.sub(r"(?<!\\)\((?!\?)", "(?P<value>", pattern, count=1)


def detect_secrets_patterns() -> list[Pattern]:
    patterns = []
    for regex in _regexes(_WHOLE_MATCH):
        body = re.sub(r"(?<!\\)\((?!\?)", "(?:", regex.pattern)  # drop groups: the whole match counts
        patterns.append(Pattern(f"detect_secrets:{_owner(regex)}",
                                rf"{_inline_flags(regex)}(?<![A-Za-z0-9_])(?P<value>{body})(?![A-Za-z0-9])", 0.9))
    # Azure's `AccountKey=<88 chars>`: keep the key name, redact the key.
    azure = AzureStorageKeyDetector.denylist[0].pattern.replace("AccountKey=", "AccountKey=(?P<value>", 1) + ")"
    patterns.append(Pattern("detect_secrets:AzureStorageKeyDetector", azure, 0.9))
    for regex in _regexes(_FIRST_GROUP):
        patterns.append(Pattern(f"detect_secrets:{_owner(regex)}",
                                _inline_flags(regex) + _with_value_group(regex.pattern), 0.6))
    return patterns


def _owner(regex: re.Pattern[str]) -> str:
    for cls in (*_WHOLE_MATCH, *_FIRST_GROUP, AWSKeyDetector):
        if isinstance(cls, type) and regex in cls.denylist:
            return cls.__name__
    return "AWSKeyDetector"


_PEM_KINDS = "|".join(re.escape(r.pattern.removeprefix("BEGIN ")) for r in PrivateKeyDetector.denylist
                      if r.pattern.startswith("BEGIN"))
PRIVATE_KEY_PATTERN = (rf"-----BEGIN (?:{_PEM_KINDS})-----(?P<value>(?:\\n|\\r|[\s\"'+,]|[A-Za-z0-9+/=:\-]){{64,16384}}?)"
                       rf"-----END (?:{_PEM_KINDS})-----")
JWT_PATTERN = r"(?<![A-Za-z0-9_\-])(?P<value>eyJ[A-Za-z0-9_\-]{10,}+\.eyJ[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]{16,}+)"
GOOGLE_API_KEY_PATTERN = r"(?<![A-Za-z0-9_\-])(?P<value>AIza[0-9A-Za-z_\-]{35})(?![A-Za-z0-9_\-])"
NPM_TOKEN_PATTERN = r"(?<![A-Za-z0-9_])(?P<value>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])"

SECRET_NAME = (r"(?:secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|auth[_\-]?key|signing[_\-]?key|"
               r"encryption[_\-]?key|credentials?|bearer|session[_\-]?key|app[_\-]?key|master[_\-]?key)")
ASSIGNED_SECRET_PATTERN = (
    rf"(?im)(?<![\w.\-])(?P<name>[\w.\-]{{0,40}}{SECRET_NAME}[\w.\-]{{0,40}})[\"'\]]?\s*(?::=|=>|=|:)\s*"
    r"(?:[rbuf]?[\"'](?P<value>[^\"'\s\\]{8,256}+)[\"']|(?P<bare>[A-Za-z0-9+/=_\-.~]{8,256}+)(?=\s*(?:[#;,]|$)))"
)
_NOT_SECRET_NAME = re.compile(
    r"(?i)hash|sha\d|md5|checksum|digest|integrity|uuid|guid|_id$|^id_|type|name|path|file|url|uri|"
    r"endpoint|length|size|count|max|min|expir|ttl|timeout|header|prefix|suffix|format|version|env|"
    r"var|field|label|pattern|regex|class|kind|mode|scope|method|tokeniz|tokens_|_tokens|num_token|"
    r"token_ids?|token_len|vocab|lifetime|public|pub_|publishable|next_?token|page_?token|continuation|"
    r"pagination|cursor|marker|csrf|xsrf|verification")
_TEMPLATED = re.compile(r"\$\{|\{\{|\}\}|%\(|^%s$|^<.*>$|^\$\w|\{\w*\}")
# `Authorization: token abc...` / `Authorization: Bearer abc...` in headers, curl lines, docs.
AUTH_HEADER_PATTERN = (r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?(?:token|bearer|basic)\s+"
                       r"(?P<value>[A-Za-z0-9._~+/\-]{16,512}+=*)")
_ATTRIBUTE_CHAIN = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


MIN_HEX_SECRET_LENGTH = 24
"""Hex API keys are 32+ digits; 16-digit hex strings are ids (FACTS.md: bigcode's 38 key false
positives per MB came from schema files full of them)."""


def entropy_ratio(value: str) -> float:
    """Shannon entropy over the most a string of this length and alphabet can have."""
    counts = Counter(value)
    n = len(value)
    h = -sum(c / n * math.log2(c / n) for c in counts.values())
    alphabet = 16 if re.fullmatch(r"[0-9a-fA-F]+", value) else 64
    return h / math.log2(min(n, alphabet))


class KeyRecognizer(CodePatternRecognizer):
    ENTITY = "KEY"

    def __init__(self, fake_markers: list[str] = (), ignore_uuids: bool = True, min_secret_length: int = 16,
                 min_entropy_ratio: float = 0.8):
        patterns = [*detect_secrets_patterns(),
                    Pattern("private_key", PRIVATE_KEY_PATTERN, 1.0),
                    Pattern("jwt", JWT_PATTERN, 0.9),
                    Pattern("google_api_key", GOOGLE_API_KEY_PATTERN, 0.9),
                    Pattern("npm_token", NPM_TOKEN_PATTERN, 0.9),
                    Pattern("assigned_secret", ASSIGNED_SECRET_PATTERN, 0.6),
                    Pattern("auth_header", AUTH_HEADER_PATTERN, 0.6)]
        super().__init__(patterns, context=["key", "secret", "token", "api"])
        self.fake_markers = [m.lower() for m in fake_markers]
        self.ignore_uuids = ignore_uuids
        self.min_secret_length = min_secret_length
        self.min_entropy_ratio = min_entropy_ratio
        self._jwt = JwtTokenDetector()

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return self._split_private_keys(text, results)

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        kind = match.re.pattern
        if "bare" in match.re.groupindex:  # the generic assignment pattern
            return self._accept_assignment(match.group("value") or match.group("bare"), match.group("name"))
        if kind == AUTH_HEADER_PATTERN:
            return self._accept_assignment(match.group("value"), "authorization")
        value = text[start:end]
        if kind != PRIVATE_KEY_PATTERN and contains_marker(value, self.fake_markers):
            return False
        if kind == JWT_PATTERN:
            return self._jwt.is_formally_valid(value)
        return True

    def _accept_assignment(self, value: str, name: str) -> bool:
        if len(value) < self.min_secret_length or _NOT_SECRET_NAME.search(name):
            return False
        if contains_marker(value, self.fake_markers) or _TEMPLATED.search(value):
            return False
        if self.ignore_uuids and _UUID.match(value):
            return False
        if value.startswith(("/", "./", "~/", "http:", "https:")) or _ATTRIBUTE_CHAIN.fullmatch(value):
            return False  # a path, a URL, or code: settings.SECRET_KEY_VALUE
        if value.isalpha() or re.fullmatch(r"[0-9a-fA-F]+", value) and len(value) < MIN_HEX_SECRET_LENGTH:
            return False  # words (`StateCredentials`); 64-bit hex ids (`c85175a4ebcce361` in schema files)
        classes = sum(bool(re.search(c, value)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
        if classes < 2:
            return False
        return entropy_ratio(value) >= self.min_entropy_ratio

    @staticmethod
    def _split_private_keys(text: str, results):
        """Report the key material of a PEM block as its base64 runs, so quotes, `\\n` escapes
        and string concatenation around it survive redaction."""
        out = []
        for r in results:
            if r.recognition_metadata.get("pattern_name") != "private_key":
                out.append(r)
                continue
            body = text[r.start:r.end]
            if "EXAMPLE" in body:  # AWS documentation keys: `...5EXAMPLE9dyU1Z...`
                continue
            for m in re.finditer(r"(?:\\[nr])?([A-Za-z0-9+/=]{16,})", body):
                piece = type(r)(r.entity_type, r.start + m.start(1), r.start + m.end(1), r.score,
                                recognition_metadata=dict(r.recognition_metadata))
                out.append(piece)
        return out
