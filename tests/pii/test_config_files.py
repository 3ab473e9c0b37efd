"""Credentials in real-looking configuration files of common stacks: every planted secret found
with its class, every placeholder, template and service default left alone.

The files (tests/pii/data/configs/) hold each driver's connection-string syntax: JDBC URLs with
query parameters (MySQL, MariaDB, PostgreSQL), `;` properties (SQL Server) and Oracle's
`user/password@`, ADO.NET and ODBC strings (braced `Pwd={...}`), libpq keyword strings
(quoted values), MongoDB (`mongodb+srv://`), Redis (`redis://:password@`), AMQP (`amqps://`),
signed and token-bearing URLs, and JDBC code (`getConnection`, `setProperty`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pii import scan_text

CONFIGS = Path(__file__).parent / "data" / "configs"

EXPECTED = {
    "application.properties": [
        ("username", "orders_app"), ("password", "Vq7!rT2zLp"),          # jdbc:mysql ?user=&password=
        ("username", "rpt_reader"), ("password", "Hq2#wX9kTz"),          # jdbc:sqlserver ;user=;password=
        ("username", "ledger_ro"), ("password", "Lg8mPq2vXw"),           # jdbc:oracle:thin:user/password@
        ("username", "mq_user"), ("password", "Rb6tYq2mNs"),             # amqps://user:password@
        ("password", "Kx3vN8qPwz"),                                      # redis://:password@
    ],
    "appsettings.json": [
        ("username", "shop_web"), ("password", "Tz4!kQ9wLm"),            # ADO.NET
        ("username", "erp_batch"), ("password", "Wn5;tR8!qZ"),           # ODBC, braced value
        ("key", "Jq3mWk8vTz2LpXr9Ns4YbC6dHf1GeA5u%3D"),                  # Azure SAS &sig=
    ],
    ".env": [
        ("username", "shop"), ("password", "Pg7vRt2xQw"),
        ("password", "Rd4kMz9pLq"),                                      # rediss://:password@
        ("username", "analytics"), ("password", "Mg2xVb8nKt"),           # mongodb+srv://
        ("key", "Wb7kQz2mXv9LpTr4Ns8YcD3f"),                             # ?token=
    ],
    "docker-compose.yml": [
        ("username", "api"), ("password", "My5qLz8wRt"), ("password", "My5qLz8wRt"),
        ("username", "worker"), ("password", "Aq9vKx3mPz"),
        ("username", "jobs_rw"), ("password", "Jb4 kW9!mQ"),             # libpq, quoted value with a space
    ],
    "settings.py": [
        ("password", "Dj6!pWq2Lx"), ("username", "reports"), ("password", "Rp3zKv8mNq"),
        ("username", "erp"), ("password", "Ms7wQk2zLt"), ("password", "Cc5nTq8wXz"),
    ],
    "knexfile.js": [("password", "Kn8!vQz3Wp"), ("username", "shop_prod"), ("password", "Pr5xLq9mTv")],
    "ReportDao.java": [("password", "Jv4#mXq8Lt"), ("password", "Gc7!wPz2Qk")],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_file_credentials_found_and_nothing_else(name):
    text = (CONFIGS / name).read_text(encoding="utf-8")
    found = [(f.cls, text[f.start:f.end]) for f in scan_text(text, name)]
    assert Counter(found) == Counter(EXPECTED[name])
