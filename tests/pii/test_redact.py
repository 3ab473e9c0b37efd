"""Redaction: placeholders, stable synthetic IPs, audit records without values, valid Python."""

from __future__ import annotations

import ast
import ipaddress
import json
import random

from pii import PiiConfig, redact_text, scan_text
from tests.pii.conftest import CLEAN_MODULES, plant, stdlib_text

PLANTS = [  # (template, value, class): string literals, comments, docstrings, config values
    ('CONTACT = "{}"', "ana.lima@posteo.de", "email"),
    ("# questions: {}", "r.okafor@fastmail.com", "email"),
    ('SERVER = "{}"', "93.184.216.34", "ip_address"),
    ("# fallback host {}", "2a00:1450:4001:82a::200e", "ip_address"),
    ('AWS_ACCESS_KEY_ID = "{}"', "AKIA4FJQ7XQ2ZJ5KLM3P", "key"),
    ("GH_TOKEN = '{}'", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "key"),
    ('SECRET_KEY = r"{}"', "q8Zr4Tn1Vx6Lp3Ws9Kd2Hf7Jb5Mc0Ga", "key"),
    ('DB_PASSWORD = "{}"', "v9#Lq2!mZp", "password"),
    ('DSN = f"postgres://ops_ro:{}@db.acme-corp.io/app"', "Hx7rT2q9", "password"),
]


def test_placeholders_replace_values():
    text = 'A = "ana.lima@posteo.de"\nK = "AKIA4FJQ7XQ2ZJ5KLM3P"\nP = {"password": "v9#Lq2!mZp"}\n'
    redacted, records = redact_text(text)
    assert redacted == 'A = "<EMAIL>"\nK = "<KEY>"\nP = {"password": "<PASSWORD>"}\n'
    assert [(r.cls, r.line) for r in records] == [("email", 1), ("key", 2), ("password", 3)]


def test_ip_replaced_by_a_stable_private_address():
    cfg = PiiConfig()
    text = 'A = "93.184.216.34"\nB = "93.184.216.34"\nC = "2a00:1450:4001:82a::200e"\n'
    redacted, _ = redact_text(text)
    a, b, c = (line.split('"')[1] for line in redacted.splitlines())
    assert a == b and a in cfg.ip_replacements_v4 and c in cfg.ip_replacements_v6
    assert not ipaddress.ip_address(a).is_global and not ipaddress.ip_address(c).is_global
    assert redact_text(text)[0] == redacted


def test_redacting_twice_changes_nothing():
    text = plant(stdlib_text("json/decoder.py"), 30, 'SERVER = "{}"', "93.184.216.34")[0]
    once, _ = redact_text(text)
    assert redact_text(once) == (once, [])


def test_placeholders_configurable_per_class():
    cfg = PiiConfig(placeholders={"email": "user@example.com", "key": "<KEY>"})
    redacted, _ = redact_text('A = "ana.lima@posteo.de"\n', config=cfg)
    assert redacted == 'A = "user@example.com"\n'


def test_records_hold_class_span_file_but_never_the_value():
    text, span = plant(stdlib_text("json/decoder.py"), 30, 'DB_PASSWORD = "{}"', "v9#Lq2!mZp")
    _, records = redact_text(text, path="json/decoder.py")
    assert [(r.cls, r.start, r.end, r.path) for r in records] == [("password", *span, "json/decoder.py")]
    assert "v9#Lq2!mZp" not in json.dumps([r.to_json() for r in records])


def test_redacted_python_files_still_parse():
    rng = random.Random(0)
    for name in CLEAN_MODULES:
        text = stdlib_text(name)
        values = []
        for template, value, _ in rng.sample(PLANTS, 4):
            # a top-level position: before a line that starts at column 0 with a def/class
            tops = [i + 1 for i, line in enumerate(text.splitlines()) if line.startswith(("def ", "class "))]
            text, _ = plant(text, rng.choice(tops), template, value)
            values.append(value)
        ast.parse(text)
        redacted, records = redact_text(text, path=name)
        ast.parse(redacted)  # raises on a broken file
        assert len(records) >= 4
        for value in values:
            assert value not in redacted, (name, value)


def test_findings_can_be_passed_in():
    text = 'A = "ana.lima@posteo.de"\n'
    findings = scan_text(text)
    assert redact_text(text, findings=findings[:0]) == (text, [])
    assert redact_text(text, findings=findings)[0] == 'A = "<EMAIL>"\n'
