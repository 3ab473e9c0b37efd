"""The one `PiiConfig`: what to detect, what to ignore, how to redact.

Defaults follow StarCoder's PII pipeline (bigcode-dataset `pii/`): its placeholders, its IP
exclusions (private ranges, popular DNS servers, version strings), plus the context rules
bigcode left out (example domains, noreply addresses, lock-file hashes, UUIDs, fake fixtures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from starforge.errors import ConfigError

CLASSES = ("email", "ip_address", "key", "password", "username", "name")
"""Our PII classes; presidio entity names are their upper-case forms (`EMAIL_ADDRESS` for email)."""


@dataclass
class PiiConfig:
    classes: list[str] = field(default_factory=lambda: ["email", "ip_address", "key", "password", "username"])
    """Classes to detect and redact (`name` needs `ner_model`)."""
    placeholders: dict[str, str] = field(default_factory=lambda: {
        "email": "<EMAIL>", "key": "<KEY>", "password": "<PASSWORD>", "username": "<NAME>", "name": "<NAME>"})
    """Replacement per class, StarCoder's by default. IP addresses use `ip_replacements_*` instead."""
    ip_replacements_v4: list[str] = field(default_factory=lambda: [
        "10.34.117.9", "10.201.48.13", "172.20.14.96", "192.168.87.41"])
    """Synthetic private IPv4 addresses; each real address maps to one of them by a stable hash."""
    ip_replacements_v6: list[str] = field(default_factory=lambda: [
        "fd00:4a1e:2c7b::1", "fd12:3456:789a::7", "fd8b:1c4d:9e2f::35"])
    """Synthetic unique-local IPv6 addresses, chosen the same way."""
    ignore_email_domains: list[str] = field(default_factory=lambda: [
        "example.com", "example.org", "example.net", "example.edu", "domain.com", "yourdomain.com",
        "mydomain.com", "yourcompany.com", "email.com", "test.com", "localhost", "users.noreply.github.com"])
    """Addresses at these domains (and their subdomains) are documentation, not people. The
    RFC 2606 TLDs .example, .test, .invalid, .localhost and .local are always ignored."""
    ignore_email_local_parts: list[str] = field(default_factory=lambda: [
        "noreply", "no-reply", "donotreply", "do-not-reply", "git", "nobody", "mailer-daemon"])
    """Local parts that name no person (`git@github.com`); any address containing `noreply` too."""
    ip_allowlist: list[str] = field(default_factory=lambda: [
        "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "76.76.19.19", "76.223.122.150", "9.9.9.9",
        "149.112.112.112", "208.67.222.222", "208.67.220.220", "8.26.56.26", "8.20.247.20",
        "94.140.14.14", "94.140.15.15"])
    """Public resolvers bigcode's pipeline keeps (POPULAR_DNS_SERVERS in its pii_redaction.py)."""
    ignore_usernames: list[str] = field(default_factory=lambda: [
        "root", "admin", "administrator", "user", "username", "postgres", "sa", "guest", "test", "anonymous"])
    """Service or placeholder account names in credentials: not personal, left as is."""
    fake_markers: list[str] = field(default_factory=lambda: [
        "fake", "dummy", "example", "sample", "placeholder", "notreal", "not-a-real", "not_a_real",
        "redacted", "xxxx", "changeme", "your-", "your_", "<your", "insert", "test"])
    """A secret or password whose value contains one of these (any case) is a test fixture."""
    ignore_uuids: bool = True
    """UUIDs are identifiers, not secrets, even when assigned to `token` or `key`."""
    lock_files: list[str] = field(default_factory=lambda: [
        "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
        "Pipfile.lock", "uv.lock", "Cargo.lock", "Gemfile.lock", "composer.lock", "go.sum", "*.lock"])
    """File names (fnmatch) whose high-entropy strings are package hashes, never secrets."""
    min_secret_length: int = 16
    """Shortest value a `secret = "..."` assignment can flag; shorter ones are too often words."""
    min_entropy_ratio: float = 0.8
    """Shannon entropy of a generic secret over the most its length and alphabet allow;
    random tokens score ~0.9, words and identifiers lower."""
    prefilter: bool = True
    """Send presidio only the text around cheap regex triggers; files without one skip it."""
    window_chars: int = 300
    """Characters kept on each side of a trigger, within its line."""
    batch_chars: int = 32768
    """Largest text handed to presidio in one call: bounds time per call on dense files."""
    max_file_bytes: int | None = 128 * 2**20
    """Larger files are reported as skipped (too_large) and not written by `redact`."""
    ner_model: Path | None = None
    """Local spaCy pipeline or Hugging Face token-classifier directory (StarPII-style): an extra
    recognizer whose labels map to the configured classes (PERSON/PER/NAME to `name`, StarPII's
    EMAIL, KEY, PASSWORD... to ours); None or absent: skipped with one log line. Disables the
    prefilter."""

    def __post_init__(self) -> None:
        unknown = [c for c in self.classes if c not in CLASSES]
        if unknown:
            raise ConfigError(f"unknown PII class {unknown[0]!r} in 'classes'; choose from {', '.join(CLASSES)}")
        if not self.ip_replacements_v4 or not self.ip_replacements_v6:
            raise ConfigError("'ip_replacements_v4' and 'ip_replacements_v6' need at least one address each")
        if self.window_chars < 50 or self.batch_chars < 1024:
            raise ConfigError("'window_chars' must be >= 50 and 'batch_chars' >= 1024")
