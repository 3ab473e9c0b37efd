"""Planting: PII lines inserted into real files at known spans, in places realistic for each
file type, with decoys of what must be ignored."""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import regex

from bench.pii import REPORTED
from bench.pii.synthetic import FIRST, LAST, company, gen_email, gen_ip, gen_key, gen_password, gen_user


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


def driver_syntax(t: str, host: str, user: tuple[str, str], pw: tuple[str, str]):
    """A connection string in one of the drivers' syntaxes (ADO.NET's above; JDBC query
    parameters, ODBC braces, Oracle's `user/password@`, libpq quoting, Redis without a user,
    a token-bearing URL's password twin), chosen by a generator seeded with the password, so the
    main generator draws exactly what it drew before these syntaxes existed."""
    sub = random.Random(pw[1])
    kind = sub.choice(["adonet", "jdbc_query", "odbc", "oracle", "libpq", "redis"])
    if kind == "jdbc_query":
        pw = (pw[0], quote(pw[1], safe=""))
        t = "jdbc:mysql://" + host + ":3306/app?useSSL=true&user={u}&password={p}&serverTimezone=UTC"
    elif kind == "odbc":
        t = "Driver={ODBC Driver 18 for SQL Server};Server=" + host + ";Uid={u};Pwd={" + "{p}" + "};Encrypt=yes;"
    elif kind == "oracle":
        pw = (pw[0], "".join(c for c in pw[1] if c.isalnum()))
        t = "jdbc:oracle:thin:{u}/{p}@//" + host + ":1521/ORCL"
    elif kind == "libpq":
        t = "host=" + host + " port=5432 dbname=app user={u} password='{p}' sslmode=require"
    elif kind == "redis":
        pw = (pw[0], quote(pw[1], safe=""))
        user = ("", "")
        t = "redis://:{p}@" + host.replace("db.", "cache.") + ":6379/0"
    return t, user, pw


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
        if t.startswith("requests.get") and random.Random(value).random() < 0.5:  # drawn aside, as driver_syntax
            t = "requests.get(f\"https://api.acme.io/v1/items?q={q}&api_key={v}&page=2\")"
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
        t, user, pw = driver_syntax(t, host, user, pw)
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
