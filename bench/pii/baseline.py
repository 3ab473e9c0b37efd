"""The baseline: bigcode-dataset's `pii/` detection as StarCoder ran it (its regexes and filters,
detect-secrets with its plugin list), without the gibberish model."""

from __future__ import annotations

import ipaddress
import os
import tempfile

import regex

EMAIL_RE = regex.compile(r"""
    (?<= ^ | [\b\s@,?!;:)('".\p{Han}<] )
    (
      [^\b\s@?!;,:)('"<]+
      @
      [^\b\s@!?;,/]*
      [^\b\s@?!;,/:)('">.]
      \.
      \p{L} \w{1,}
    )
    (?= $ | [\b\s@,?!;:)('".\p{Han}>] )
""", flags=regex.MULTILINE | regex.VERBOSE)
IPV4 = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(?:\.(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}"
IPV6 = (r"(?:[0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}:){1,7}:|(?:[0-9a-fA-F]{1,4}:){1,6}:"
        r"[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}:){1,5}(?::[0-9a-fA-F]{1,4}){1,2}|(?:[0-9a-fA-F]{1,4}:){1,4}"
        r"(?::[0-9a-fA-F]{1,4}){1,3}|(?:[0-9a-fA-F]{1,4}:){1,3}(?::[0-9a-fA-F]{1,4}){1,4}|(?:[0-9a-fA-F]{1,4}:)"
        r"{1,2}(?::[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(?:(?::[0-9a-fA-F]{1,4}){1,6})|:(?:(?::[0-9a-fA-F]"
        r"{1,4}){1,7}|:)|fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}|::(?:ffff(?::0{1,4}){0,1}:){0,1}(?:(?:25"
        r"[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])|(?:[0-9a-fA-F]"
        r"{1,4}:){1,4}:(?:(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(?:25[0-5]|(?:2[0-4]|1{0,1}[0-9])"
        r"{0,1}[0-9])")
IP_RE = regex.compile(r"(?:^|[\b\s@?,!;:\'\")(.\p{Han}])(" + "|".join([IPV4, IPV6]) + r")(?:$|[\s@,?!;:'\"(.\p{Han}])",
                      flags=regex.MULTILINE)
YEAR_RES = [regex.compile(p) for p in (
    r"(?:^|[\b\s@?,!;:\'\")(.\p{Han}])([1-2][0-9]{3}[\p{Pd}/][1-2][0-9]{3})(?:$|[\s@,?!;:\'\"(.\p{Han}])",
    r"(?:^|[\b\s@?,!;:\'\")(.\p{Han}])([1-2][0-9]{3}[\p{Pd}/.][0-3][0-9][\p{Pd}/.][0-3][0-9])(?:$|[\s@,?!;:\'\"(.\p{Han}])",
    r"(?:^|[\b\s@?,!;:\'\")(.\p{Han}])([0-3][0-9][\p{Pd}/.][0-3][0-9][\p{Pd}/.](?:[0-9]{2}|[1-2][0-9]{3}))"
    r"(?:$|[\s@,?!;:\'\"(.\p{Han}])")]
POPULAR_DNS_SERVERS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "76.76.19.19", "76.223.122.150", "9.9.9.9",
                       "149.112.112.112", "208.67.222.222", "208.67.220.220", "8.26.56.26", "8.20.247.20",
                       "94.140.14.14", "94.140.15.15"}
DETECT_SECRETS_SETTINGS = {
    "plugins_used": [{"name": n} for n in (
        "ArtifactoryDetector", "AWSKeyDetector", "AzureStorageKeyDetector", "CloudantDetector",
        "DiscordBotTokenDetector", "GitHubTokenDetector", "IbmCloudIamDetector", "IbmCosHmacDetector",
        "JwtTokenDetector", "MailchimpDetector", "NpmDetector", "SendGridDetector", "SlackDetector",
        "SoftlayerDetector", "StripeDetector", "TwilioKeyDetector")]
    + [{"name": "Base64HighEntropyString", "limit": 4.5}, {"name": "HexHighEntropyString", "limit": 3}],
    "filters_used": [{"path": f"detect_secrets.filters.heuristic.{n}"} for n in (
        "is_potential_uuid", "is_likely_id_string", "is_templated_secret", "is_sequential_string")],
}


def bigcode_ip_kept(value: str, context: str) -> bool:
    if not any(c.isdigit() for c in value) or any(r.match(value) for r in YEAR_RES):
        return False
    if value.count(".") == 3 and len(value) == 7 and not ("dns" in context.lower() or "server" in context.lower()):
        return False  # filter_versions
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not ip.is_private and value not in POPULAR_DNS_SERVERS  # pii_redaction.py's ignore condition


def bigcode_is_hash(content: str, value: str) -> bool:
    at = content.find(value)
    line = content[:at].splitlines()[-1:] if at > 0 else [""]
    return len(value) in (32, 40, 64) and any(k in (line[0] if line else "").lower() for k in ("sha", "md5", "hash", "byte"))


class BigcodeBaseline:
    def __init__(self):
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import transient_settings

        self._collection, self._settings = SecretsCollection, transient_settings
        self.tmpdir = tempfile.mkdtemp(prefix="pii-bench-")

    def analyze(self, text: str) -> list[tuple[str, int, int]]:
        out = []
        for m in EMAIL_RE.finditer(text):
            out.append(("email", *m.span(1)))
        for m in IP_RE.finditer(text):
            start, end = m.span(1)
            if bigcode_ip_kept(m.group(1), text[max(0, start - 100):end + 100]):
                out.append(("ip_address", start, end))
        out.extend(self._keys(text))
        return out

    def _keys(self, text: str) -> list[tuple[str, int, int]]:
        path = os.path.join(self.tmpdir, "doc.txt")  # bigcode: a temp file per document, suffix .txt
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        secrets = self._collection()
        with self._settings(DETECT_SECRETS_SETTINGS):
            secrets.scan_file(path)
        out, lines = [], None
        for found in secrets.data.values():
            for secret in found:
                value = secret.secret_value
                if not value or bigcode_is_hash(text, value):
                    continue
                if lines is None:
                    lines = text.splitlines(keepends=True)
                    starts = [0]
                    for line in lines:
                        starts.append(starts[-1] + len(line))
                ln = secret.line_number - 1
                col = lines[ln].find(value) if 0 <= ln < len(lines) else -1
                at = starts[ln] + col if col >= 0 else text.find(value)
                if at >= 0:
                    out.append(("key", at, at + len(value)))
        return out
