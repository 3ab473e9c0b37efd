"""`starforge pii scan|redact` end to end on real files, through the top-level CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pii import PiiConfig
from starforge.cli import main as starforge_main
from starforge.config import load_config
from tests.pii.conftest import STDLIB, plant, stdlib_text

SECRET = "q8Zr4Tn1Vx6Lp3Ws9Kd2Hf7Jb5Mc0Ga"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small source tree: a planted Python file, an untouched one, a binary, a latin-1 file."""
    root = tmp_path / "src"
    (root / "pkg" / "sub").mkdir(parents=True)
    text, _ = plant(stdlib_text("json/decoder.py"), 40, 'SECRET_KEY = "{}"', SECRET)
    text, _ = plant(text, 20, "# maintainer {}", "ana.lima@posteo.de")
    (root / "pkg" / "decoder.py").write_text(text)
    shutil.copy(STDLIB / "string.py", root / "pkg" / "sub" / "string.py")
    (root / "pkg" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    (root / "legacy.txt").write_bytes("caf\xe9 ana.lima@posteo.de".encode("latin-1"))
    return root


def test_scan_json_reports_findings_without_values(tree, capsys):
    assert starforge_main(["pii", "scan", str(tree), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_path = {Path(f["path"]).name: f for f in report["files"]}
    assert sorted(f["class"] for f in by_path["decoder.py"]["findings"]) == ["email", "key"]
    assert by_path["string.py"]["findings"] == []
    assert by_path["logo.png"]["skipped"] == "binary"
    assert by_path["legacy.txt"]["skipped"] is None and by_path["legacy.txt"]["non_utf8"] is True
    assert [f["class"] for f in by_path["legacy.txt"]["findings"]] == ["email"]
    assert report["summary"]["findings"] == {"email": 2, "key": 1}
    assert report["summary"]["skipped"] == {"binary": 1} and report["summary"]["non_utf8"] == 1
    assert SECRET not in json.dumps(report)


def test_scan_table_lists_path_line_class(tree, capsys):
    assert starforge_main(["pii", "scan", str(tree / "pkg" / "decoder.py")]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and rows[0].split("\t")[1] == "email" and ":20:" in rows[0]


def test_missing_path_is_a_user_error(tmp_path, capsys):
    assert starforge_main(["pii", "scan", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_redact_folder_mirrors_layout_and_copies_binaries(tree, tmp_path):
    out = tmp_path / "out"
    assert starforge_main(["pii", "redact", str(tree), str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "legacy.txt", "pkg/decoder.py", "pkg/logo.png", "pkg/sub/string.py"]
    redacted = (out / "pkg" / "decoder.py").read_text()
    assert SECRET not in redacted and 'SECRET_KEY = "<KEY>"' in redacted and "# maintainer <EMAIL>" in redacted
    assert (out / "pkg" / "logo.png").read_bytes() == (tree / "pkg" / "logo.png").read_bytes()
    assert (out / "pkg" / "sub" / "string.py").read_bytes() == (tree / "pkg" / "sub" / "string.py").read_bytes()
    audit = tmp_path / "out.pii"
    records = [json.loads(line) for line in (audit / "redactions.jsonl").read_text().splitlines()]
    assert {(r["path"], r["class"]) for r in records} == {
        ("pkg/decoder.py", "email"), ("pkg/decoder.py", "key"), ("legacy.txt", "email")}
    summary = json.loads((audit / "summary.json").read_text())
    assert summary["redactions"] == {"email": 2, "key": 1} and summary["copied_binary"] == 1
    assert summary["non_utf8"] == 1
    assert load_config(PiiConfig, audit / "config.yaml") == PiiConfig()
    assert SECRET not in (audit / "redactions.jsonl").read_text()


# A Java .properties file is ISO-8859-1 by specification: one byte that is not UTF-8 (the
# umlaut of a comment) must not turn a configuration file into an unscanned "binary".
LATIN1_PROPERTIES = ("# Produktionsdatenbank, Ansprechpartner J\xfcrgen Wei\xdf <j.weiss@posteo.de>\n"
                     "spring.datasource.url=jdbc:postgresql://db.acme-corp.io:5432/app\n"
                     "spring.datasource.username=app_rw\n"
                     "spring.datasource.password=Zr8w2Ltq!x\n"
                     "# Stra\xdfe und Geb\xe4ude: siehe Wiki\n").encode("latin-1")


def test_redact_non_utf8_text_file_scanned_and_every_other_byte_kept(tmp_path):
    src = tmp_path / "application.properties"
    src.write_bytes(LATIN1_PROPERTIES)
    out = tmp_path / "out.properties"
    assert starforge_main(["pii", "redact", str(src), str(out)]) == 0
    expected = LATIN1_PROPERTIES.replace(b"j.weiss@posteo.de", b"<EMAIL>").replace(b"Zr8w2Ltq!x", b"<PASSWORD>")
    assert out.read_bytes() == expected  # the Latin-1 bytes come out as they went in
    summary = json.loads((tmp_path / "out.properties.pii" / "summary.json").read_text())
    assert summary["non_utf8"] == 1 and summary["redacted"] == 1 and summary.get("copied_binary", 0) == 0
    audit = (tmp_path / "out.properties.pii" / "redactions.jsonl").read_bytes()
    assert b"Zr8w2Ltq" not in audit and b"weiss" not in audit


def test_redact_copies_only_really_binary_files_unscanned(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    blob = b"\x00\x01" + b'password = "Zr8w2Ltq!x"\n'  # a NUL byte: binary, copied as it is
    (src / "cache.bin").write_bytes(blob)
    (src / "notes.txt").write_bytes(b"\xff\xfe is no BOM here; password = 'Zr8w2Ltq!x'\n")
    out = tmp_path / "out"
    assert starforge_main(["pii", "redact", str(src), str(out)]) == 0
    assert (out / "cache.bin").read_bytes() == blob
    assert (out / "notes.txt").read_bytes() == b"\xff\xfe is no BOM here; password = '<PASSWORD>'\n"
    summary = json.loads((tmp_path / "out.pii" / "summary.json").read_text())
    assert summary["copied_binary"] == 1 and summary["non_utf8"] == 1 and summary["redacted"] == 1


def test_redact_single_file_with_override(tree, tmp_path):
    out = tmp_path / "decoder.py"
    src = tree / "pkg" / "decoder.py"
    assert starforge_main(["pii", "redact", str(src), str(out), "--set", "classes=[email]"]) == 0
    text = out.read_text()
    assert "<EMAIL>" in text and SECRET in text


def test_redact_refuses_output_inside_input(tree, capsys):
    assert starforge_main(["pii", "redact", str(tree), str(tree / "out")]) == 2
    assert "OUT must lie outside IN" in capsys.readouterr().err


def test_bad_config_key_is_a_user_error(tree, capsys):
    assert starforge_main(["pii", "scan", str(tree), "--set", "clases=[email]"]) == 2
    assert "did you mean 'classes'" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "configs" / "pii").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_pii_preset_loads(path):
    assert isinstance(load_config(PiiConfig, path), PiiConfig)
