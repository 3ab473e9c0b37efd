"""IPv4 and IPv6 addresses that could point at a real machine.

Kept: globally routable addresses only. Excluded, as bigcode-dataset's `pii/` does (its
`is_private_ip`, `filter_versions`, POPULAR_DNS_SERVERS) and more: private, loopback,
link-local, multicast, reserved and documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32, 6bone's 3ffe::/16), IPv6 outside global unicast 2000::/3 (so `dead:beef::` and
C++'s `a::b` are not addresses), public DNS resolvers, and version strings: a dotted quad on
a line that speaks of versions or sections (`__version__`, `version=`, `==1.2.3.4`,
`Version:`, `Section 4.10.22.7`, OIDs) or one
of single digits with no network word near it; and fixture-like quads (`2.2.2.2`,
`1.2.3.4`, `170.170.170.170`).
"""

from __future__ import annotations

import ipaddress
import re

from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers, line_bounds

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Not followed by `.word` either: `11.5.9.0.sb00000000.r1` is a version, not an address.
IPV4_PATTERN = rf"(?<![\w.])(?P<value>{_OCTET}(?:\.{_OCTET}){{3}})(?![\w\-]|\.\w)"
# A run of hex digits and colons (possessive: linear on any input); ipaddress decides.
IPV6_PATTERN = r"(?<![\w:.])(?P<value>[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*+)(?![\w:]|\.\d)"

_VERSION_CONTEXT = re.compile(
    r"(?i)version|\bver\b|release|requires|==|>=|<=|~=|!=|\^|@$|\bv$|build|revision|semver|"
    r"section|chapter|§|rfc|figure|table|step|oid|objectidentifier|<!--")
_NETWORK_CONTEXT = re.compile(
    r"(?i)\bip|host|server|dns|addr|connect|http|url|proxy|gateway|route|ping|socket|bind|listen|"
    r"remote|peer|endpoint|nameserver|firewall|allow|deny|subnet|network")
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# Documentation ranges (RFC 5737, RFC 3849, RFC 9637) and the 6bone test range 3ffe::/16
# (RFC 3701: returned in 2006, still the address of many parser tests).
_DOCUMENTATION = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                                                      "2001:db8::/32", "3fff::/20", "3ffe::/16")]


@register_recognizer
class IpRecognizer(CodePatternRecognizer):
    CLASS = "ip_address"
    TRIGGERS = Triggers(patterns=(r"\.\d{1,3}\.\d{1,3}\.\d", r":[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]"))
    CONFIG = ("ip_allowlist",)

    def __init__(self, ip_allowlist: list[str] = ()):
        super().__init__([Pattern("ipv4", IPV4_PATTERN, 0.8), Pattern("ipv6", IPV6_PATTERN, 0.8)],
                         context=["ip", "host", "server", "address"])
        self.allowlist = frozenset(ip_allowlist)

    def accept(self, text: str, match: re.Match[str], start: int, end: int) -> bool:
        value = text[start:end]
        if value in self.allowlist or len(value) > 45:
            return False
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return False
        if not ip.is_global or ip.is_multicast or any(ip in net for net in _DOCUMENTATION if net.version == ip.version):
            return False
        if ip.version == 6:
            return ip in _GLOBAL_UNICAST_V6 and value.count(":") >= 2
        lo, hi = line_bounds(text, start, end, limit=120)
        before, line = text[lo:start], text[lo:hi]
        if _VERSION_CONTEXT.search(before[-60:]) and not _NETWORK_CONTEXT.search(before[-30:]):
            return False
        octets = [int(o) for o in value.split(".")]
        if len(set(octets)) == 1 or all(b - a == 1 for a, b in zip(octets, octets[1:])) or all(
                a - b == 1 for a, b in zip(octets, octets[1:])):
            return False  # test fixtures: 2.2.2.2, 170.170.170.170, 1.2.3.4, 4.3.2.1
        digits = value.replace(".", "")
        if value.startswith("1.2.3.") or digits in "1234567890" or digits in "9876543210":
            return False  # placeholders: 1.2.3.5 beside 1.2.3.4 in docs, 123.45.67.89, 98.76.54.32
        # `1.0.2.5`-style: bigcode's filter_versions keeps it only beside dns/server words.
        return not (len(value) == 7 and not _NETWORK_CONTEXT.search(line))
