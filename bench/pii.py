"""PII detection accuracy and speed: our presidio-based detector against a bigcode-style baseline.

    .venv/bin/python bench/pii.py [--labelled-mb 8] [--clean-mb 8] [--seed 0]

The labelled set is built reproducibly (same interpreter and packages, same seed, same set;
the file list's fingerprint is printed) from real code nobody here wrote: the standard library
and installed packages (.py, .js, .json, .yaml, .cfg, .md), each file named by a key relative to
its root (`stdlib/json/decoder.py`, `site-packages/nltk/help.py`) and taken in the order of
sha256(seed:key), so installing a package adds files without reshuffling the others. Host files
get 1-4 synthetic PII values each, inserted as new lines in realistic places for their type
(string literals, comments, config values, connection strings, docstrings, Markdown prose and
code), with known spans; about half also get one decoy line from the issue's list of things to
ignore (example.com and noreply addresses, private IPs, version strings, UUIDs, AWS's
documented example key, environment lookups, templated values, package hashes). A disjoint set
of untouched files measures false positives.

Scoring, per class (email, ip_address, key, password; username for ours): a prediction on an
inserted line is a true positive when it overlaps a planted value of its class, else a false
positive; a planted value no prediction of its class overlaps is a false negative. Predictions
on the host files' own lines are left to the untouched set.

Untouched files hold PII of their own (authors' e-mail addresses in file headers, mostly), so
they carry reviewed labels, `bench/pii_labels.json`. Labelling rule: every candidate in the
default untouched set (seed 0, `--clean-mb 8`) was read by eye: our detector's findings, the
baseline's, and a loose sweep of every `x@y.z` string and every global IP literal. A value is
labelled PII when it is a real instance of a class we redact: an address that reaches, or
reveals, a real person's or organisation's mailbox (author headers, `__email__`, a gmane relay
or an anti-spam-munged address of a named person); a public IP address used as a machine's
address; a working secret or password. Not labelled: documentation personas and placeholders
(`bill@amazon.com` beside `bill@example.com` in AWS examples, `t@e.com` and `password =
'python'` for a fake test server), message-ids, and whatever is not of the class (versions,
slices, decorators). Labels name the file by key, the line, and the value by length and sha256,
never the value, and are matched on the text alone, so they do not depend on any detector's
output at run time. A finding that overlaps a labelled value of its class is a true positive of
the `preexisting` tally (labelled values nobody found are its misses); every other finding on an
untouched file is a false positive (`fp_per_mb`); `findings_per_mb` counts them all. A smaller
`--clean-mb` takes a prefix of the same order, so it stays covered; files no one reviewed
(another seed, a larger set, new packages) have no labels: all their findings count as false
positives, and the bench says how many such files there were.

The baseline re-implements bigcode-dataset's `pii/` detection as StarCoder ran it: its email
and IPv4/IPv6 regexes with `ip_has_digit`, `matches_date_pattern`, `filter_versions` and
`not_ip_address`, the redaction step's private-IP and popular-DNS exclusions, and
detect-secrets `scan_file` on a temp file per document with bigcode's plugin list and filters
and its `is_hash` check. Its gibberish filter is left out (it needs a trained
gibberish-detector model that is not available offline), which can only raise its key recall
and lower its key precision. It has no password class.

Throughput is CPU seconds (time.process_time) of each detector over both sets, one process:
MB/s per core. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import os
import random
import string
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pii import PiiAnalyzer  # noqa: E402
from starforge.files import walk_files  # noqa: E402

EXTENSIONS = (".py", ".js", ".json", ".yaml", ".yml", ".cfg", ".md")
CLASSES = ("email", "ip_address", "key", "password", "username")
REPORTED = ("email", "ip_address", "key", "password")


# -- the corpus -------------------------------------------------------------------------------

def source_pool() -> dict[str, Path]:
    """Candidate files by key: `stdlib/<path>` or `site-packages/<path>`, relative to the
    interpreter's roots, so a key names the same file on any machine with this interpreter."""
    paths = sysconfig.get_paths()
    roots = sorted({(Path(paths[k]), "stdlib" if k == "stdlib" else "site-packages")
                    for k in ("stdlib", "purelib", "platlib")})
    files: dict[str, Path] = {}
    for root, label in roots:
        for path in walk_files(root, skip_dirs=("__pycache__",), suffixes=EXTENSIONS):
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if 500 <= size <= 300_000:
                files.setdefault(f"{label}/{path.relative_to(root).as_posix()}", path)
    return files


def read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# -- synthetic PII ----------------------------------------------------------------------------

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


# -- planting ---------------------------------------------------------------------------------

@dataclass
class Item:
    """A line to insert: text with its gold (class, start, end) spans relative to the line."""

    line: str
    gold: list[tuple[str, int, int]] = field(default_factory=list)


def build(template: str, **values: tuple[str, str]) -> Item:
    """`template` with {name} slots; values maps name -> (class or "", value)."""
    out, gold = "", []
    for part in regex.split(r"(\{\w+\})", template):
        if part.startswith("{") and part.endswith("}") and part[1:-1] in values:
            cls, value = values[part[1:-1]]
            if cls:
                gold.append((cls, len(out), len(out) + len(value)))
            out += value
        else:
            out += part
    return Item(out, gold)


# Shapes any file type may hold (a quarter of the plants): forms met in the wild that are
# harder than a `NAME = "value"` line, so the set does not only echo the detector's patterns.
HARD = {
    "email": ['<a href="mailto:{v}">mail us</a>', "    Reported-by: {v}", 'reviewers = ["{v}", "bot"]',
              "# Copyright 2021 {V} <{v}>", "git config user.email '{v}'", "cc: {v}; {w}"],
    "ip_address": ["  - {v}", "allow {v}/32;", 'url = "https://[{v}]:8443/"', "nameserver {v}",
                   "curl 'https://api.acme.io/geo?ip={v}'", "# blocked {v} after abuse report"],
    "key": ['headers = {"X-Api-Key": "{v}"}', "Authorization: token {v}", 'requests.get(url, params={"key": "{v}"})',
            'client = Client(api_key="{v}")', "const clientSecret = '{v}';", "    accessToken: {v}"],
    "password": ['  "pass": "{p}",', "mysql -u {u} -p'{p}' app", "machine api.acme.io login {u} password {p}",
                 "PGPASSWORD={p} psql -h db.acme.io -U {u}", 'login(username="{u}", passwd="{p}")',
                 "--password={p}"],
}


def make_hard_item(rng: random.Random, cls: str) -> Item:
    t = rng.choice(HARD[cls])
    if cls == "email":
        return build(t, v=("email", gen_email(rng)), w=("email", gen_email(rng)),
                     V=("", f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"))
    if cls == "ip_address":
        ip = gen_ip(rng)
        if ":" not in ip and "[" in t:
            t = t.replace("[{v}]", "{v}")
        return build(t, v=("ip_address", ip))
    if cls == "key":
        kind, value = gen_key(rng)
        while kind == "pem":
            kind, value = gen_key(rng)
        return build(t, v=("key", value))
    return build(t, p=("password", gen_password(rng)), u=("", gen_user(rng)))


def make_item(rng: random.Random, ext: str, cls: str) -> Item:
    py, js = ext == ".py", ext == ".js"
    if rng.random() < 0.25:
        return make_hard_item(rng, cls)
    if cls == "email":
        v = ("email", gen_email(rng))
        name = f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"
        if py:
            t = rng.choice(['__author_email__ = "{v}"', "# Maintainer: " + name + " <{v}>", 'CONTACT = "{v}"',
                            '"""Questions about this module go to {v}."""', "    # reported by {v}"])
        elif js:
            t = rng.choice(['// Author: ' + name + ' <{v}>', 'const SUPPORT_EMAIL = "{v}";', ' * @author {v}'])
        elif ext == ".json":
            t = rng.choice(['  "author": "' + name + ' <{v}>",', '  "email": "{v}",'])
        elif ext in (".yaml", ".yml"):
            t = rng.choice(["maintainer: {v}", 'email: "{v}"', "# owner: {v}"])
        elif ext == ".cfg":
            t = rng.choice(["author_email = {v}", "maintainer_email = {v}"])
        else:
            t = rng.choice(["Contact " + name + " ({v}) for access.", "- Maintainer: <{v}>",
                            "Send patches to `{v}`."])
        return build(t, v=v)
    if cls == "ip_address":
        v = ("ip_address", gen_ip(rng))
        if py:
            t = rng.choice(['SERVER_IP = "{v}"', "# production replica at {v}", 'ALLOWED_HOSTS = ["{v}"]',
                            'upstream = "http://{v}:8080/api"'])
        elif js:
            t = rng.choice(['const host = "{v}";', "// fallback server {v}", '  proxy: "{v}",'])
        elif ext == ".json":
            t = rng.choice(['  "host": "{v}",', '  "ip": "{v}",'])
        elif ext in (".yaml", ".yml"):
            t = rng.choice(["host: {v}", "bind_address: \"{v}\""])
        elif ext == ".cfg":
            t = rng.choice(["host = {v}", "server = {v}"])
        else:
            t = rng.choice(["The staging box is at {v}.", "    ssh deploy@{v}", "curl http://{v}/health"])
        if ":" in v[1] and "http://" in t:
            t = t.replace("http://{v}", "http://[{v}]")
        return build(t, v=v)
    if cls == "key":
        kind, value = gen_key(rng)
        v = ("key", value)
        if kind == "pem":
            header, footer = "-----BEGIN RSA PRIVATE KEY-----\n", "\n-----END RSA PRIVATE KEY-----"
            # gold: the key material, one value (the armour may stay)
            item = Item(header + value + footer, [("key", len(header), len(header) + len(value))])
            prefix = 'PRIVATE_KEY = """' if py else ("const key = `" if js else "")
            suffix = '"""' if py else ("`;" if js else "")
            return Item(prefix + item.line + suffix, [(c, s + len(prefix), e + len(prefix)) for c, s, e in item.gold])
        names = {"aws": ["AWS_ACCESS_KEY_ID", "aws_access_key_id"], "github": ["GITHUB_TOKEN", "gh_token"],
                 "slack": ["SLACK_BOT_TOKEN", "slack_token"], "stripe": ["STRIPE_SECRET_KEY", "stripe_key"],
                 "google": ["GOOGLE_MAPS_API_KEY", "maps_key"], "jwt": ["auth_token", "JWT"],
                 "generic_b64": ["SECRET_KEY", "api_key", "client_secret", "ACCESS_TOKEN", "webhook_secret",
                                 "APP_KEY"],
                 "generic_hex": ["API_KEY", "api_token", "client_secret", "private_token", "encryption_key"]}[kind]
        name = rng.choice(names)
        if py:
            t = rng.choice([name + ' = "{v}"', "    " + name.lower() + " = '{v}'",
                            'headers = {"Authorization": "Bearer {v}"}' if kind == "jwt" else name + ' = "{v}"'])
        elif js:
            t = rng.choice(["const " + name + ' = "{v}";', "  " + name + ": '{v}',"])
        elif ext == ".json":
            t = '  "' + name + '": "{v}",'
        elif ext in (".yaml", ".yml"):
            t = rng.choice([name.lower() + ": {v}", name.lower() + ': "{v}"'])
        elif ext == ".cfg":
            t = name.lower() + " = {v}"
        else:
            t = rng.choice(["    export " + name + "={v}", "Use `" + name + "={v}` for the sandbox."])
        return build(t, v=v)
    # password (with a username where credentials come in pairs)
    user = ("username", gen_user(rng))
    host = f"db.{company(rng)}"
    kind = rng.choice(["assign", "assign", "url", "connstr", "kwargs"])
    if kind == "url":
        pw = ("password", gen_password(rng, url_safe=True))
        scheme = rng.choice(["postgresql", "mysql", "mongodb", "redis", "amqp", "https"])
        t = scheme + "://{u}:{p}@" + host + ":5432/app"
        t = {".py": 'DATABASE_URL = "' + t + '"', ".js": 'const uri = "' + t + '";', ".json": '  "url": "' + t + '",',
             ".yaml": "url: " + t, ".yml": "url: " + t, ".cfg": "sqlalchemy.url = " + t}.get(ext, "    " + t)
        return build(t, u=user, p=pw)
    pw = ("password", gen_password(rng))
    if kind == "connstr":
        t = 'Server=tcp:' + host + ',1433;Database=app;User Id={u};Password={p};Encrypt=true;'
        t = {".py": 'CONN = "' + t + '"', ".js": 'const conn = "' + t + '";', ".json": '  "conn": "' + t + '",'}.get(
            ext, "connection_string: \"" + t + "\"" if ext in (".yaml", ".yml") else "    " + t)
        return build(t, u=user, p=pw)
    if kind == "kwargs" and (py or js):
        t = ('conn = psycopg2.connect(host="' + host + '", user="{u}", password="{p}")' if py
             else 'const client = new Client({ host: "' + host + '", user: "{u}", password: "{p}" });')
        return build(t, u=("", user[1]), p=pw)
    name = rng.choice(["password", "DB_PASSWORD", "db_password", "smtp_password", "admin_pass", "PASSWORD"])
    if py:
        t = name + ' = "{p}"'
    elif js:
        t = "  " + name + ': "{p}",'
    elif ext == ".json":
        t = '  "' + name + '": "{p}",'
    elif ext in (".yaml", ".yml"):
        t = name.lower() + ": {p}"
    elif ext == ".cfg":
        t = name.lower() + " = {p}"
    else:
        t = "    export " + name.upper() + "={p}"
    return build(t, p=pw)


def make_decoy(rng: random.Random, ext: str) -> Item:
    return Item(rng.choice([
        'AUTHOR_EMAIL = "jane.doe@example.com"', "# notifications come from noreply@github.com",
        'HOST = "192.168.1.10"', 'BIND = "127.0.0.1"', '__version__ = "2.4.1.0"', 'requires = ["lib==3.10.2.1"]',
        f'session_token = "{rng.randbytes(16).hex()[:8]}-9a7d-4e6f-b5c4-{rng.randbytes(6).hex()}"',
        'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"', 'password = os.environ["DB_PASSWORD"]',
        'password = "${DB_PASSWORD}"', f'"integrity": "sha512-{base64.b64encode(rng.randbytes(64)).decode()}"',
        f'checksum = "{hashlib.sha256(rng.randbytes(8)).hexdigest()}"', 'DNS = "8.8.8.8"',
        'url = "https://user:password@example.com/"', 'token_type = "Bearer"', 'SERVER = "203.0.113.50"',
        'V6 = "fe80::1"', 'DOC_V6 = "2001:db8::42"', 'api_key = "your-api-key-here"',
    ]))


@dataclass
class Sample:
    path: Path
    text: str
    gold: list[tuple[str, int, int]]
    inserted: list[tuple[int, int]]
    key: str = ""
    """`stdlib/...` or `site-packages/...`: the file's name in the labels file."""


def plant_file(rng: random.Random, path: Path, text: str, key: str = "") -> Sample:
    ext = path.suffix
    lines = text.splitlines(keepends=True)
    items = [make_item(rng, ext, rng.choices(REPORTED, weights=(3, 3, 4, 3))[0]) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.5:
        items.append(make_decoy(rng, ext))
    positions = sorted(rng.randrange(len(lines) + 1) for _ in items)
    out, gold, inserted, pos, last = [], [], [], 0, 0
    for item, at in zip(items, positions):
        chunk = "".join(lines[last:at])
        if chunk and not chunk.endswith("\n"):
            chunk += "\n"
        out.append(chunk)
        pos += len(chunk)
        nxt = lines[at] if at < len(lines) else ""
        indent = nxt[: len(nxt) - len(nxt.lstrip(" \t"))] if not item.line.startswith(" ") else ""
        line = indent + item.line + "\n"
        gold.extend((c, pos + len(indent) + s, pos + len(indent) + e) for c, s, e in item.gold)
        inserted.append((pos, pos + len(line)))
        out.append(line)
        pos += len(line)
        last = at
    out.append("".join(lines[last:]))
    return Sample(path, "".join(out), gold, inserted, key)


def build_sets(seed: int, labelled_mb: float, clean_mb: float) -> tuple[list[Sample], list[Sample], str]:
    """Files are taken in the order of sha256(seed:key) and sent to one set or the other by a
    bit of that hash: installing a package adds its files to the order without reshuffling the
    rest, so the untouched set (and its reviewed labels) stays put."""
    pool = source_pool()
    ranked = sorted((hashlib.sha256(f"{seed}:{key}".encode()).hexdigest(), key) for key in pool)
    labelled, clean, n_lab, n_clean = [], [], 0, 0
    fingerprint = hashlib.sha256()
    for digest, key in ranked:
        if n_lab >= labelled_mb * 1e6 and n_clean >= clean_mb * 1e6:
            break
        to_labelled = int(digest[-1], 16) % 2 == 0
        if (n_lab if to_labelled else n_clean) >= (labelled_mb if to_labelled else clean_mb) * 1e6:
            continue
        text = read(pool[key])
        if not text or "\0" in text:
            continue
        fingerprint.update(f"{key}:{len(text)}\n".encode())
        if to_labelled:
            labelled.append(plant_file(random.Random(f"{seed}:{key}"), pool[key], text, key))
            n_lab += len(labelled[-1].text)
        else:
            clean.append(Sample(pool[key], text, [], [], key))
            n_clean += len(text)
    return labelled, clean, fingerprint.hexdigest()[:16]


# -- the bigcode-style baseline ---------------------------------------------------------------

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


def ours(analyzer: PiiAnalyzer):
    def run(sample: Sample) -> list[tuple[str, int, int]]:
        return [(f.cls, f.start, f.end) for f in analyzer.analyze(sample.text, sample.path)]
    return run


# -- scoring ----------------------------------------------------------------------------------

def score(labelled: list[Sample], preds: list[list[tuple[str, int, int]]]) -> dict[str, dict[str, float]]:
    tp_pred = {c: 0 for c in CLASSES}
    fp = {c: 0 for c in CLASSES}
    hit = {c: 0 for c in CLASSES}
    total = {c: 0 for c in CLASSES}
    for sample, pred in zip(labelled, preds):
        for c, s, e in sample.gold:
            total[c] += 1
            if any(pc == c and ps < e and s < pe for pc, ps, pe in pred):
                hit[c] += 1
        for pc, ps, pe in pred:
            if not any(lo <= ps < hi for lo, hi in sample.inserted):
                continue  # on the host's own lines: measured on the untouched set
            if any(c == pc and s < pe and ps < e for c, s, e in sample.gold):
                tp_pred[pc] += 1
            else:
                fp[pc] += 1
    out = {}
    for c in CLASSES:
        p = tp_pred[c] / (tp_pred[c] + fp[c]) if tp_pred[c] + fp[c] else (1.0 if total[c] == 0 else 0.0)
        r = hit[c] / total[c] if total[c] else 1.0
        out[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
                  "gold": total[c], "fp": fp[c]}
    return out


LABELS = Path(__file__).with_name("pii_labels.json")


@dataclass
class Labels:
    """The reviewed pre-existing PII of the untouched set (bench/pii_labels.json)."""

    reviewed: set[str]
    items: dict[str, list[dict]]

    @classmethod
    def load(cls, path: Path = LABELS) -> Labels:
        data = json.loads(path.read_text(encoding="utf-8"))
        items: dict[str, list[dict]] = {}
        for item in data["pii"]:
            items.setdefault(item["file"], []).append(item)
        return cls(set(data["reviewed_files"]), items)

    def spans(self, sample: Sample) -> tuple[list[tuple[str, int, int]], int]:
        """(class, start, end) of each labelled value found at its line by its sha256, and the
        number of labels not found there (the file changed: those count as nothing)."""
        items = self.items.get(sample.key, [])
        if not items:
            return [], 0
        starts = [0]
        for line in sample.text.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        out, stale = [], 0
        for item in items:
            n, digest = item["length"], item["sha256"]
            lo = starts[item["line"] - 1] if item["line"] <= len(starts) - 1 else len(sample.text)
            hi = starts[item["line"]] if item["line"] < len(starts) else lo
            at = next((i for i in range(lo, max(lo, hi - n + 1))
                       if hashlib.sha256(sample.text[i:i + n].encode()).hexdigest() == digest), None)
            if at is None:
                stale += 1
            else:
                out.append((item["class"], at, at + n))
        return out, stale


def score_untouched(clean: list[Sample], preds: list[list[tuple[str, int, int]]], labels: Labels) -> dict:
    """Findings on untouched files: those overlapping a labelled value of their class are true
    positives (pre-existing PII), all others false positives; labelled values no finding of
    their class overlaps are the pre-existing misses."""
    fp = {c: 0 for c in CLASSES}
    found = missed = tp = stale = unreviewed = 0
    for sample, pred in zip(clean, preds):
        gold, n_stale = labels.spans(sample)
        stale += n_stale
        unreviewed += sample.key not in labels.reviewed
        for c, s, e in gold:
            if any(pc == c and ps < e and s < pe for pc, ps, pe in pred):
                found += 1
            else:
                missed += 1
        for pc, ps, pe in pred:
            if any(c == pc and s < pe and ps < e for c, s, e in gold):
                tp += 1
            else:
                fp[pc] += 1
    return {"fp": fp, "preexisting": {"labelled": found + missed, "found": found, "missed": missed,
                                      "true_positive_findings": tp, "stale_labels": stale},
            "unreviewed_files": unreviewed}


def show_errors(labelled, preds, clean, clean_preds, labels: Labels) -> None:
    def ctx(text, s, e):
        lo, hi = text.rfind("\n", 0, s) + 1, text.find("\n", e)
        return (text[lo:s] + "[[" + text[s:e] + "]]" + text[e:hi if hi >= 0 else len(text)])[:160]
    for sample, pred in zip(labelled, preds):
        for c, s, e in sample.gold:
            if not any(pc == c and ps < e and s < pe for pc, ps, pe in pred):
                print(f"  MISS {c:10s} {sample.path.name}: {ctx(sample.text, s, e)!r}")
        for pc, ps, pe in pred:
            if any(lo <= ps < hi for lo, hi in sample.inserted) and not any(
                    c == pc and s < pe and ps < e for c, s, e in sample.gold):
                print(f"  FP   {pc:10s} {sample.path.name}: {ctx(sample.text, ps, pe)!r}")
    for sample, pred in zip(clean, clean_preds):
        gold = labels.spans(sample)[0]
        for pc, ps, pe in pred:
            tag = "LABELLED " if any(c == pc and s < pe and ps < e for c, s, e in gold) else "UNTOUCHED"
            print(f"  {tag} {pc:10s} {sample.key}: {ctx(sample.text, ps, pe)!r}")


def timed(fn, samples):
    t0 = time.process_time()
    preds = [fn(s) for s in samples]
    return preds, time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelled-mb", type=float, default=8.0)
    parser.add_argument("--clean-mb", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-errors", action="store_true", help="print our misses and false positives")
    parser.add_argument("--labels", type=Path, default=LABELS, help="reviewed pre-existing PII of the untouched set")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    labelled, clean, fingerprint = build_sets(args.seed, args.labelled_mb, args.clean_mb)
    lab_mb = sum(len(s.text) for s in labelled) / 1e6
    clean_mb = sum(len(s.text) for s in clean) / 1e6
    planted = {c: sum(g[0] == c for s in labelled for g in s.gold) for c in CLASSES}
    print(f"labelled: {len(labelled)} files, {lab_mb:.2f} MB, planted {planted}; untouched: {len(clean)} files, "
          f"{clean_mb:.2f} MB; files fingerprint {fingerprint} (built in {time.perf_counter() - t0:.1f} s)")

    labels = Labels.load(args.labels)
    results = {}
    for name, fn in (("ours", ours(PiiAnalyzer())), ("baseline", BigcodeBaseline().analyze)):
        if name == "baseline":
            fn_ = fn
            fn = lambda s, fn_=fn_: fn_(s.text)  # noqa: E731
        lab_preds, t_lab = timed(fn, labelled)
        clean_preds, t_clean = timed(fn, clean)
        per_class = score(labelled, lab_preds)
        if args.show_errors and name == "ours":
            show_errors(labelled, lab_preds, clean, clean_preds, labels)
        untouched = score_untouched(clean, clean_preds, labels)
        fp_by_class = {c: round(n / clean_mb, 3) for c, n in untouched["fp"].items()}
        results[name] = {"per_class": per_class, "fp_per_mb": round(sum(untouched["fp"].values()) / clean_mb, 3),
                         "fp_per_mb_by_class": fp_by_class, "preexisting": untouched["preexisting"],
                         "findings_per_mb": round(sum(map(len, clean_preds)) / clean_mb, 3),
                         "mb_s_per_core": round((lab_mb + clean_mb) / (t_lab + t_clean), 3)}
        pre = untouched["preexisting"]
        print(f"\n{name}: {results[name]['mb_s_per_core']:.2f} MB/s per core; untouched files: "
              f"{results[name]['findings_per_mb']:.2f} findings/MB, of which {pre['true_positive_findings']} on "
              f"labelled PII, false positives {results[name]['fp_per_mb']:.2f}/MB {fp_by_class}; "
              f"pre-existing PII found {pre['found']}/{pre['labelled']} (missed {pre['missed']})")
        if name == "ours" and (untouched["unreviewed_files"] or pre["stale_labels"]):
            print(f"  note: {untouched['unreviewed_files']} untouched files were never reviewed and "
                  f"{pre['stale_labels']} labels no longer match their file: their PII counts as false positives")
        print(f"  {'class':<11} {'P':>6} {'R':>6} {'F1':>6} {'gold':>5} {'fp':>5}")
        for c in CLASSES:
            m = per_class[c]
            if name == "baseline" and c == "username":
                continue
            print(f"  {c:<11} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['gold']:5d} {m['fp']:5d}")

    o, b = results["ours"], results["baseline"]
    summary = {
        "f1": {c: o["per_class"][c]["f1"] for c in REPORTED},
        "baseline_f1": {c: b["per_class"][c]["f1"] for c in REPORTED},
        "precision": {c: o["per_class"][c]["precision"] for c in REPORTED},
        "recall": {c: o["per_class"][c]["recall"] for c in REPORTED},
        "baseline_precision": {c: b["per_class"][c]["precision"] for c in REPORTED},
        "baseline_recall": {c: b["per_class"][c]["recall"] for c in REPORTED},
        "username_f1": o["per_class"]["username"]["f1"],
        "fp_per_mb": o["fp_per_mb"], "fp_per_mb_by_class": o["fp_per_mb_by_class"],
        "baseline_fp_per_mb": b["fp_per_mb"], "baseline_fp_per_mb_by_class": b["fp_per_mb_by_class"],
        "findings_per_mb": o["findings_per_mb"], "baseline_findings_per_mb": b["findings_per_mb"],
        "preexisting": o["preexisting"], "baseline_preexisting": b["preexisting"],
        "untouched_unreviewed_files": sum(s.key not in labels.reviewed for s in clean),
        "mb_s_per_core": o["mb_s_per_core"], "baseline_mb_s_per_core": b["mb_s_per_core"],
        "labelled_mb": round(lab_mb, 3), "clean_mb": round(clean_mb, 3), "planted": planted, "seed": args.seed,
        "files_fingerprint": fingerprint, "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
