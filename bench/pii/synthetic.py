"""Synthetic PII values: addresses, public IPs, service tokens and secrets, passwords, users."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string

FIRST = "ana bruno chen dmitri elif fatima gustavo hana ivan julia kwame lena mateo nadia oscar priya quinn " \
        "rosa sven tariq uma viktor wen xavier yuki zara".split()
LAST = "lima okafor nowak hsu garcia schmidt tanaka kowalski dubois rossi silva nguyen kim patel novak " \
       "jensen murphy costa haddad ivanova".split()
MAIL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "protonmail.com", "posteo.de", "fastmail.com",
                "gmx.net", "icloud.com", "web.de", "hotmail.fr"]
WORDS = "acme nimbus orbit quanta vertex helio lumen kestrel cobalt juniper atlas ember polar rivet".split()
TLDS = ["com", "io", "dev", "co", "de", "fr", "net", "org", "ai", "tech"]
B64 = string.ascii_letters + string.digits + "+/"
ALNUM = string.ascii_letters + string.digits


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def company(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}.{rng.choice(TLDS)}"


def gen_email(rng: random.Random) -> str:
    f, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}", f"{f}{last}{rng.randint(1, 99)}",
                        f"{f}.{last}+{rng.choice(WORDS)}", f"{last}.{f}"])
    domain = rng.choice([rng.choice(MAIL_DOMAINS), company(rng), f"cs.{rng.choice(WORDS)}.edu"])
    return f"{local}@{domain}"


DNS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "208.67.222.222", "208.67.220.220"}


def gen_ip(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.7:
            ip = ipaddress.IPv4Address(rng.getrandbits(32))
            if len(str(ip)) == 7:
                continue  # bigcode treats x.x.x.x as a version unless dns/server is near: avoid the ambiguity
        else:
            groups = [rng.getrandbits(16) for _ in range(8)]
            groups[0] = 0x2000 | rng.getrandbits(12) | (rng.getrandbits(1) << 12)
            if rng.random() < 0.6:  # runs of zeros, so `::` compression appears
                k = rng.randint(2, 4)
                for i in range(8 - k - 1, 7):
                    groups[i] = 0
                groups[7] = rng.getrandbits(8)
            ip = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        bad = (not ip.is_global or ip.is_multicast or str(ip) in DNS
               or ip in ipaddress.ip_network("2001:db8::/32" if ip.version == 6 else "192.0.2.0/24"))
        if not bad:
            return str(ip)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def gen_key(rng: random.Random) -> tuple[str, str]:
    """(kind, value)"""
    kind = rng.choice(["aws", "github", "slack", "stripe", "google", "jwt", "pem", "generic_b64", "generic_hex",
                       "generic_b64", "generic_hex"])
    if kind == "aws":
        return kind, "AKIA" + rand(rng, string.ascii_uppercase + string.digits, 16)
    if kind == "github":
        return kind, "ghp_" + rand(rng, ALNUM, 36)
    if kind == "slack":
        return kind, f"xoxb-{rng.randint(10**9, 10**12)}-{rng.randint(10**11, 10**13)}-{rand(rng, ALNUM, 24)}"
    if kind == "stripe":
        return kind, "sk_live_" + rand(rng, ALNUM, 24)
    if kind == "google":
        return kind, "AIza" + rand(rng, ALNUM + "-_", 35)
    if kind == "jwt":
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps({"sub": str(rng.randint(1, 10**9)), "name": rng.choice(FIRST).title(),
                                     "iat": rng.randint(1.5e9, 1.8e9)}).encode())
        return kind, f"{header}.{payload}.{b64url(rng.randbytes(32))}"
    if kind == "pem":
        body = base64.b64encode(rng.randbytes(rng.randint(600, 1200))).decode()
        return kind, "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    if kind == "generic_hex":
        return kind, rng.randbytes(rng.choice([16, 20, 32])).hex()
    return kind, rand(rng, ALNUM, rng.randint(24, 44))


def gen_password(rng: random.Random, url_safe: bool = False) -> str:
    symbols = "-_.!~" if url_safe else "!$%^&*-_+=.?@"
    style = rng.randrange(3)
    if style == 0:
        word = rng.choice(["summer", "dragon", "monkey", "sunshine", "shadow", "falcon", "pirate", "winter"])
        return f"{word.title()}{rng.randint(10, 2030)}{rng.choice(symbols)}"
    if style == 1:
        return rand(rng, ALNUM, 1) + rand(rng, ALNUM + symbols, rng.randint(9, 16))
    return "".join(rng.choice([c, c.upper(), {"a": "4", "e": "3", "o": "0", "s": "5"}.get(c, c)])
                   for c in rng.choice(WORDS) + rng.choice(WORDS)) + str(rng.randint(1, 99))


def gen_user(rng: random.Random) -> str:
    f, last = rng.choice(FIRST), rng.choice(LAST)
    return rng.choice([f"{f}_{last}", f"{f[0]}{last}", f"svc_{rng.choice(WORDS)}", f"{f}{rng.randint(1, 99)}"])
