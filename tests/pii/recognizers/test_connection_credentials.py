"""The URL and connection-string recognizers on real code: each driver's syntax found at its
span, look-alikes (placeholders, templates, names about passwords, ids) not."""

from __future__ import annotations

import pytest

from pii import scan_text
from tests.pii.conftest import plant


def found(text: str, path: str | None = None) -> list[tuple[str, str, str]]:
    return [(f.cls, text[f.start:f.end], f.recognizer) for f in scan_text(text, path)]


@pytest.mark.parametrize("template,value,recognizer", [
    # URL query strings
    ('URL = "jdbc:mysql://db.acme-corp.io/app?user=app_rw&password={}&useSSL=true"', "Zr8w2Ltq!x", "url_query_password"),
    ('URL = "jdbc:postgresql://pg.acme-corp.io/app?sslmode=require&password={}"', "Pq4%40wT9z", "url_query_password"),
    ('body = "grant_type=password&username=ops&password={}&client_id=cli"', "Gt5vRq8mWz", "url_query_password"),
    ('<a href="/login?user=ops&amp;pwd={}">', "Hm3kT8wQzp", "url_query_password"),
    ('HOOK = "https://hooks.acme-corp.io/deploy?token={}&env=prod"', "Wb7kQz2mXv9LpTr4Ns8YcD3f", "url_query_token"),
    ("curl 'https://api.acme-corp.io/v2/items?api_key={}&q=shoes'", "Zx81kQ0pLm27VbT5nR4wYc9e", "url_query_token"),
    ('S3 = "https://b.s3.amazonaws.com/k?X-Amz-Expires=900&X-Amz-Signature={}"',
     "4f8a1c9e2b7d3f6a0e5c8b1d4a7f2e9c6b3d0a5f8e1c4b7a2d9f6e3c0b5a8d1f", "url_query_token"),
    # connection strings
    ('CONN = "Driver={{ODBC Driver 18 for SQL Server}};Server=sql.acme-corp.io;Uid=etl;Pwd={{{}}};"', "Wn5;tR8!qZ",
     "connection_string"),
    ("CONN = \"Data Source=sql.acme-corp.io;User ID=etl;Password='{}';\"", "Tz4;kQ9 wLm", "connection_string"),
    ("DSN = \"host=pg.acme-corp.io dbname=jobs user=jobs_rw password='{}'\"", "Jb4 kW9!mQ", "connection_string"),
    ('CONN = "jdbc:sqlserver://sql.acme-corp.io:1433;databaseName=rpt;user=rpt;password={};"', "Hq2#wX9kTz",
     "connection_string"),
    # JDBC
    ('URL = "jdbc:oracle:thin:ledger_ro/{}@//ora.acme-corp.io:1521/LEDGER"', "Lg8mPq2vXw", "jdbc_oracle_url"),
    ('conn = DriverManager.getConnection(URL, "rpt_batch", "{}");', "Gc7!wPz2Qk", "jdbc_get_connection"),
    ('props.setProperty("password", "{}");', "Jv4#mXq8Lt", "jdbc_properties"),
    # URL userinfo without a user
    ('CACHE = "redis://:{}@cache.acme-corp.io:6379/0"', "Kx3vN8qPwz", "url_credentials"),
    ('BROKER = "amqps://jobs:{}@mq.acme-corp.io:5671/%2F"', "Aq9vKx3mPz", "url_credentials"),
    ('MONGO = "mongodb+srv://analytics:{}@cluster0.ab1cd.mongodb.net/?retryWrites=true"', "Mg2xVb8nKt",
     "url_credentials"),
])
def test_credential_planted_in_real_code_found_whole(decoder_py, template, value, recognizer):
    text, (start, end) = plant(decoder_py, 40, template, value)
    hits = [(f.cls, f.start, f.end, f.recognizer) for f in scan_text(text)]
    cls = "key" if recognizer == "url_query_token" else "password"
    assert (cls, start, end, recognizer) in hits, hits


@pytest.mark.parametrize("line", [
    # placeholders and templates in each syntax
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=${DB_USER}&password=${DB_PASSWORD}"',
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=app&password=<password>"',
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=app&password={password}"',
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=app&password=%s" % pw',
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=app&password=changeme"',
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=app&password=xxxxxx"',
    'URL = "jdbc:mysql://db.acme-corp.io/app?user=app&password=" + password',
    'url = f"https://api.acme-corp.io/login?user={user}&password={password}"',
    'CONN = "Server=sql.acme-corp.io;Uid={user};Pwd={password};"',
    'CONN = "Server=sql.acme-corp.io;Uid={0};Pwd={1};".format(user, pw)',
    'CONN = "Server=sql.acme-corp.io;User ID=myUsername;Password=myPassword;"',
    "DSN = \"host=pg.acme-corp.io user=jobs password='not set yet'\"",
    'URL = "jdbc:oracle:thin:${DB_USER}/${DB_PASSWORD}@ora.acme-corp.io:1521:ORCL"',
    'conn = DriverManager.getConnection(url, user, System.getenv("DB_PASSWORD"));',
    'conn = DriverManager.getConnection("jdbc:h2:mem:test", "sa", "");',
    'props.setProperty("password", System.getenv("DB_PASSWORD"));',
    'CACHE = "redis://:${REDIS_PASSWORD}@cache.acme-corp.io:6379/0"',
    # names about passwords, not passwords
    'LOGIN = "/accounts/login/?next=/&reset_password=1"', 'FORM = "/signup?password_min_length=12&pass=true"',
    # tokens that are ids, templates or too short
    'NEXT = "https://api.acme-corp.io/items?page_token=Zx81kQ0pLm27VbT5nR4wYc9e&limit=50"',
    'URL = "https://api.acme-corp.io/v1?api_key=${SEARCH_API_KEY}&lang=en"',
    'URL = "https://api.acme-corp.io/v1?token=123e4567-e89b-12d3-a456-426614174000"',
    'URL = "https://docs.acme-corp.io/search?key=getting_started&lang=en"',
    'URL = "https://api.acme-corp.io/v1?token=abc123"', 'URL = "https://api.acme-corp.io/v1?api_key=YOUR_API_KEY"',
    'sorted(items, key=lambda kv: kv[1])',
])
def test_credential_look_alikes_ignored(decoder_py, line):
    text, _ = plant(decoder_py, 40, "{}", line)
    assert [(c, v) for c, v, _ in found(text) if c in ("password", "key", "username")] == []
