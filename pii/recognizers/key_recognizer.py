"""Secrets and keys: service tokens, private-key blocks, JWTs, high-entropy assignments.

Token shapes come from detect-secrets' plugins (their `denylist` regexes, reused as presidio
patterns rather than re-written): AWS, GitHub, GitLab, Slack, Stripe, OpenAI, SendGrid, PyPI,
Square, Discord, Telegram, Mailchimp, Twilio, Azure storage, IBM Cloud/COS, Softlayer,
Cloudant; JWTs pass detect-secrets' `JwtTokenDetector.is_formally_valid`. Added here: Google
API keys, npm tokens, the base64 body of PEM/OpenSSH private-key blocks (detect-secrets flags
only the BEGIN line; we redact the key material, keeping the armour), and any string of
`min_secret_length`+ characters assigned to a secret-looking name or sent in an
`Authorization: token|Bearer ...` header, whose entropy is near the maximum for its length,
the length-aware form of detect-secrets' Base64/Hex HighEntropyString limits. Secret-looking
names are `secret`, `token`, `api_key`... with the key names of detect-secrets'
KeywordDetector (`client_key`, `service_key`, `db_key`...), and any name whose last word is
`key` (`key`, `apiKey`, `x-api-key`) unless another of its words makes it a lookup key
(`cache_key`, `partitionKey`, `sort_key`).

Tokens with no prefix are checked for their shape: a Telegram bot token's secret half must look
random, a Discord bot token's first part must decode to a numeric user id, and a Twilio auth
token (32 lowercase hex digits) counts only on a line that names `twilio` or holds a Twilio SID,
and not on a hash line.

Ignored: values marked fake (`AKIAIOSFODNN7EXAMPLE`), UUIDs, templated values (`${TOKEN}`,
`{{ secret }}`, `%(key)s`), names that hold hashes or ids (`sha256`, `checksum`, `token_type`),
code and queries as values (`settings.SECRET_KEY`, `Shards[-1].ShardId`), and, by path rule in
the analyzer, high-entropy strings in lock files.
"""

from __future__ import annotations

import base64
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
from detect_secrets.plugins.keyword import DENYLIST as KEYWORD_DENYLIST
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

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, contains_marker, line_bounds

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

# Names that make a high-entropy string a secret: ours plus the key names of detect-secrets'
# KeywordDetector denylist (its password names are the password recognizer's).
STRONG_SECRET_NAMES = ("secret", "token", r"api[_\-]?key", r"access[_\-]?key", r"private[_\-]?key", r"auth[_\-]?key",
                       r"signing[_\-]?key", r"encryption[_\-]?key", "credentials?", "bearer", r"session[_\-]?key",
                       r"app[_\-]?key", r"master[_\-]?key",
                       *(w.replace("_?", r"[_\-]?") for w in KEYWORD_DENYLIST if w.endswith("key")))
SECRET_NAME = "(?:" + "|".join(dict.fromkeys(STRONG_SECRET_NAMES)) + "|key)"
_STRONG_SECRET_NAME = re.compile("(?i)" + "|".join(STRONG_SECRET_NAMES))
ASSIGNED_SECRET_PATTERN = (
    rf"(?im)(?<![\w.\-])(?P<name>[\w.\-]{{0,40}}{SECRET_NAME}[\w.\-]{{0,40}})[\"'\]]?\s*(?::=|=>|=|:)\s*"
    r"(?:[rbuf]?[\"'](?P<value>[^\"'\s\\]{8,256}+)[\"']|(?P<bare>[A-Za-z0-9+/=_\-.~]{8,256}+)(?=\s*(?:[#;,]|$)))"
)
# A name whose last word is `key` (`key`, `apiKey`, `x-api-key`) holds a secret unless another
# word says what kind of key it is: a lookup, a database or a UI key.
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_NOT_SECRET_KEY_WORDS = frozenset(
    "cache sort primary foreign partition range row column col index idx unique composite lookup dict map group "
    "dedup idempotency object s3 bucket blob storage translation i18n l10n message msg registry shortcut hot "
    "keyboard press event attr attribute field param query config setting settings option state store redis "
    "memcache shard order join ref parent child node".split())
NOT_SECRET_NAME = re.compile(
    r"(?i)hash|sha\d|md5|checksum|digest|integrity|uuid|guid|_id$|^id_|type|name|path|file|url|uri|"
    r"endpoint|length|size|count|max|min|expir|ttl|timeout|header|prefix|suffix|format|version|env|"
    r"var|field|label|pattern|regex|class|kind|mode|scope|method|tokeniz|tokens_|_tokens|num_token|"
    r"token_ids?|token_len|vocab|lifetime|public|pub_|publishable|next_?token|page_?token|continuation|"
    r"pagination|cursor|marker|csrf|xsrf|verification")
_TEMPLATED = re.compile(r"\$\{|\{\{|\}\}|%\(|^%s$|^<.*>$|^\$\w|\{\w*\}")
# `Authorization: token abc...` / `Authorization: Bearer abc...` in headers, curl lines, docs.
AUTH_HEADER_PATTERN = (r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?(?:token|bearer|basic)\s+"
                       r"(?P<value>[A-Za-z0-9._~+/\-]{16,512}+=*)")
# Code or a query, not a value: `settings.SECRET_KEY_VALUE`, botocore's `Shards[-1].ShardId`.
_ATTRIBUTE_CHAIN = re.compile(r"[A-Za-z_]\w*(?:\[-?\d*\])?(?:\.[A-Za-z_]\w*(?:\[-?\d*\])?)+")
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# Twilio auth tokens are 32 lowercase hex digits with no prefix: a hex string that long is a
# secret only beside the word `twilio` or a Twilio SID (`AC...`/`SK...`) on its line, and not
# on a line about hashes (`#md5=` in a package URL).
TWILIO_AUTH_TOKEN_PATTERN = r"(?<![0-9A-Za-z_])(?P<value>[0-9a-f]{32})(?![0-9A-Za-z_])"
_TWILIO_CONTEXT = re.compile(r"(?i)twilio|(?<![0-9A-Za-z_])(?-i:AC|SK)[0-9a-f]{32}(?![0-9A-Za-z_])")
_HASH_CONTEXT = re.compile(r"(?i)md5|sha\d|hash|checksum|digest|etag")


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


def _random_looking(value: str, min_entropy_ratio: float = 0.8) -> bool:
    """Two or more of lower case, upper case and digits, and entropy near the maximum."""
    classes = sum(bool(re.search(c, value)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 2 and entropy_ratio(value) >= min_entropy_ratio


def _is_discord_token(value: str) -> bool:
    """A Discord bot token opens with its bot's user id (a decimal snowflake) in base64."""
    head = value.split(".", 1)[0]
    try:
        user_id = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except ValueError:
        return False
    return user_id.isdigit() and 15 <= len(user_id) <= 20


def secret_value_ok(value: str, fake_markers: list[str], ignore_uuids: bool = True, min_secret_length: int = 16,
                    min_entropy_ratio: float = 0.8) -> bool:
    """Whether a string given to a secret-like name (or parameter) can be a secret: long
    enough, not a fixture, template, UUID, path, URL, attribute chain, word or short hex id,
    and random-looking."""
    if len(value) < min_secret_length:
        return False
    if contains_marker(value, fake_markers) or _TEMPLATED.search(value):
        return False
    if ignore_uuids and _UUID.match(value):
        return False
    if value.startswith(("/", "./", "~/", "http:", "https:")) or _ATTRIBUTE_CHAIN.fullmatch(value):
        return False  # a path, a URL, or code: settings.SECRET_KEY_VALUE
    if value.isalpha() or re.fullmatch(r"[0-9a-fA-F]+", value) and len(value) < MIN_HEX_SECRET_LENGTH:
        return False  # words (`StateCredentials`); 64-bit hex ids (`c85175a4ebcce361` in schema files)
    return _random_looking(value, min_entropy_ratio)


@register_recognizer
class KeyRecognizer(CodePatternRecognizer):
    CLASS = "key"
    TRIGGERS = Triggers(
        patterns=(r":[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])",      # Telegram bot token's secret half
                  r"\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27}",     # Discord bot token's last two parts
                  r"AC[0-9a-f]{32}", r"SK[0-9a-f]{32}"),            # Twilio account and API key SIDs
        # a name ending in `key` given a token-like value
        lower_patterns=(r"key[\"'\]]?\s*(?::=|=>|=|:)\s*[rbuf]?[\"']?[a-z0-9+/=_\-.~]{16}",),
        prefixes=("-----BEGIN", "AKIA", "ASIA", "ABIA", "ACCA", "A3T", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                  "github_pat_", "glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-", "glptt-",
                  "glagent-", "gloas-", "GR1348941", "xox", "hooks.slack", "k_live_", "T3BlbkFJ", "SG.", "pypi-",
                  "sq0csp-", "AIza", "npm_", "eyJ", "AccountKey=", "-us"),
        # secret-like names; AWS's and IBM's detect-secrets patterns also take `pwd`/`password`/`pass`
        words=("secret", "token", "apikey", "api_key", "api-key", "access_key", "access-key", "accesskey",
               "private_key", "private-key", "privatekey", "auth_key", "signing", "encryption", "credential",
               "bearer", "session_key", "app_key", "master_key", "authorization", "cloudant", "softlayer", "twilio",
               "passw", "pwd", "_pass"))
    CONFIG = ("fake_markers", "ignore_uuids", "min_secret_length", "min_entropy_ratio")
    # Patterns that read a lock file's package hashes as secrets.
    LOCK_FILE_NOISE = frozenset({
        "assigned_secret", "detect_secrets:TwilioKeyDetector", "detect_secrets:MailchimpDetector",
        "detect_secrets:DiscordBotTokenDetector", "detect_secrets:IbmCloudIamDetector", "twilio_auth_token"})

    def __init__(self, fake_markers: list[str] = (), ignore_uuids: bool = True, min_secret_length: int = 16,
                 min_entropy_ratio: float = 0.8):
        patterns = [*detect_secrets_patterns(),
                    Pattern("private_key", PRIVATE_KEY_PATTERN, 1.0),
                    Pattern("jwt", JWT_PATTERN, 0.9),
                    Pattern("google_api_key", GOOGLE_API_KEY_PATTERN, 0.9),
                    Pattern("npm_token", NPM_TOKEN_PATTERN, 0.9),
                    Pattern("assigned_secret", ASSIGNED_SECRET_PATTERN, 0.6),
                    Pattern("twilio_auth_token", TWILIO_AUTH_TOKEN_PATTERN, 0.6),
                    Pattern("auth_header", AUTH_HEADER_PATTERN, 0.6)]
        super().__init__(patterns, context=["key", "secret", "token", "api"])
        self.fake_markers = [m.lower() for m in fake_markers]
        self.ignore_uuids = ignore_uuids
        self.min_secret_length = min_secret_length
        self.min_entropy_ratio = min_entropy_ratio
        self._jwt = JwtTokenDetector()
        self._pattern_names = {regex.pattern: pattern.name for pattern, regex in self._compiled}

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return self._split_private_keys(text, results)

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        kind = match.re.pattern
        if "bare" in match.re.groupindex:  # the generic assignment pattern
            return self._accept_assignment(match.group("value") or match.group("bare"), match.group("name"))
        if kind == AUTH_HEADER_PATTERN:  # the header names a token: judged like `token = "..."`
            return self._accept_assignment(match.group("value"), "authorization_token")
        value = text[start:end]
        if kind != PRIVATE_KEY_PATTERN and contains_marker(value, self.fake_markers):
            return False
        if kind == JWT_PATTERN:
            return self._jwt.is_formally_valid(value)
        name = self._pattern_names.get(kind, "")
        if name == "twilio_auth_token":
            lo, hi = line_bounds(text, start, end)
            line = text[lo:start] + text[end:hi]
            return bool(_TWILIO_CONTEXT.search(line)) and not _HASH_CONTEXT.search(line)
        if name == "detect_secrets:TelegramBotTokenDetector":
            return _random_looking(value.partition(":")[2])
        if name == "detect_secrets:DiscordBotTokenDetector":
            return _is_discord_token(value)
        return True

    def _accept_assignment(self, value: str, name: str) -> bool:
        if len(value) < self.min_secret_length or NOT_SECRET_NAME.search(name):
            return False
        if not _STRONG_SECRET_NAME.search(name):  # only `key`: its last word, and not a lookup key
            words = [w.lower() for w in _NAME_WORDS.findall(name)]
            if not words or words[-1] != "key" or _NOT_SECRET_KEY_WORDS.intersection(words):
                return False
        return secret_value_ok(value, self.fake_markers, self.ignore_uuids, self.min_secret_length,
                               self.min_entropy_ratio)

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
