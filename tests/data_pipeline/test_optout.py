"""`starforge data opt-out` and `starforge data lookup` on a curate run of real released packages;
then tokenize and attribution index rebuild only what changed, and the check finds nothing left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starforge.cli import main as cli_main
from tests.data_pipeline.conftest import PACKAGES
from tests.data_pipeline.helpers import kept_records, outcomes

REPOS = {"debug-4.3.4": "debug-js/debug", "chalk-4.1.2": "chalk/chalk", "once-1.4.0": "isaacs/once",
         "is-number-7.0.0": "jonschlinkert/is-number", "click-8.1.7": "pallets/click",
         "yamllint-1.35.1": "adrienverge/yamllint"}


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    listing = tmp_path / "repos.yaml"
    listing.write_text("".join(f"- {{path: {PACKAGES / folder}, name: {name}}}\n" for folder, name in REPOS.items()))
    out = tmp_path / "run"
    assert cli_main(["data", "curate", "--input", str(listing), "--output", str(out), "--tasks", "2",
                     "--workers", "1", "--set", "pii=null"]) == 0
    return out


def ids_of(out: Path, repo: str) -> set[str]:
    return {k for k, r in kept_records(out).items() if r["metadata"]["repo"] == repo}


def test_opt_out_moves_matching_files_and_counts_the_step(run: Path, tmp_path: Path, capsys):
    assert ids_of(run, "debug-js/debug") and ids_of(run, "isaacs/once")
    optout = tmp_path / "optout.txt"
    optout.write_text("# requests received\ndebug-js/debug\nisaacs/*\nchalk/chalk/source/util.js\n")
    kept_before = json.loads((run / "stats.json").read_text())["totals"]["kept"]
    assert cli_main(["data", "opt-out", str(run), "--list", str(optout)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not ids_of(run, "debug-js/debug") and not ids_of(run, "isaacs/once")
    assert "chalk/chalk/source/util.js" not in kept_records(run) and "chalk/chalk/package.json" in kept_records(run)
    found = outcomes(run)
    where, record = found["debug-js/debug/src/node.js"][0]
    assert (where, record["metadata"]["reason"], record["metadata"]["opt_out_entry"]) == (
        "opted_out", "opted_out", "debug-js/debug")
    assert found["isaacs/once/once.js"][0][1]["metadata"]["opt_out_entry"] == "isaacs/*"
    moved = result["moved"]
    stats = json.loads((run / "stats.json").read_text())
    assert stats["totals"]["kept"] == kept_before - moved and stats["totals"]["removed_by_reason"]["opted_out"] == moved
    assert stats["steps"][-1]["step"] == "opted_out"
    assert json.loads((run / "funnel.json").read_text())["steps"][-1]["step"] == "opted_out"
    assert len(list((run / "opt_out").glob("*-optout.txt"))) == 1
    assert result["check"]["kept"] == "clean"

    # a re-run of curate applies the saved list again (and counts it once)
    for marker in (run / "logs").glob("*/completions/*"):
        marker.unlink()
    assert cli_main(["data", "curate", "--input", str(tmp_path / "repos.yaml"), "--output", str(run), "--tasks", "2",
                     "--workers", "1", "--set", "pii=null"]) == 0
    assert not ids_of(run, "debug-js/debug")
    again = json.loads((run / "stats.json").read_text())
    assert again["totals"]["kept"] == stats["totals"]["kept"]
    assert again["totals"]["removed_by_reason"]["opted_out"] == moved


def test_lookup_table_and_json(run: Path, capsys):
    assert cli_main(["data", "lookup", str(run), "--repo", "adrienverge/yamllint", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"]["kept"] == 0
    removed = {r["id"]: r for r in result["removed"]}
    code = removed["adrienverge/yamllint/yamllint/__init__.py"]
    assert (code["reason"], code["non_permissive"], code["step"]) == ("non_permissive_licence", "GPL-3.0-or-later", "licence")
    assert cli_main(["data", "lookup", str(run), "--owner", "pallets"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("pallets/*: 2 files kept, 1 removed (unknown_language 1)")
    rows = [line.split() for line in table.splitlines()[2:]]
    assert ["kept", "pallets/click", "pallets/click/src/click/globals.py", "BSD-3-Clause"] in rows
    assert cli_main(["data", "lookup", str(run)]) == 2  # neither --repo nor --owner: one line


def test_bad_opt_out_line_is_one_line(run: Path, tmp_path: Path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("debug-js/debug\njustaword\n")
    assert cli_main(["data", "opt-out", str(run), "--list", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.txt:2: 'justaword'" in err[0]


@pytest.mark.slow
def test_downstream_rebuilds_only_changed_shards_and_check_is_clean(run: Path, tmp_path: Path, capsys):
    tok, shards, index = tmp_path / "tok", tmp_path / "shards", tmp_path / "index"
    assert cli_main(["data", "train-tokenizer", "--input", str(run / "kept"), "--output", str(tok),
                     "--vocab-size", "600"]) == 0
    assert cli_main(["data", "tokenize", "--input", str(run / "kept"), "--tokenizer", str(tok), "--output",
                     str(shards), "--tasks", "2", "--workers", "1"]) == 0
    assert cli_main(["attribution", "index", "--input", str(run), "--output", str(index)]) == 0
    optout = tmp_path / "optout.txt"
    optout.write_text("pallets/click/src/click/globals.py\n")  # one file: in one kept file
    kept_files = sorted(p.name for p in (run / "kept").glob("*.jsonl.gz"))
    before = {p.name: p.stat().st_mtime_ns for p in shards.glob("*.bin")}
    capsys.readouterr()
    assert cli_main(["data", "opt-out", str(run), "--list", str(optout), "--shards", str(shards)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < len(result["changed_shards"]) < len(kept_files)
    assert len(result["shards_to_rebuild"]) == len(result["changed_shards"])
    assert cli_main(["data", "opt-out", str(run), "--check", "--shards", str(shards)]) == 2  # not rebuilt yet
    assert cli_main(["data", "tokenize", "--input", str(run / "kept"), "--tokenizer", str(tok), "--output",
                     str(shards), "--tasks", "2", "--workers", "1"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in shards.glob("*.bin")}
    rebuilt = {name for name in after if after[name] != before[name]}
    assert rebuilt == {f"{n}.bin" for n in result["shards_to_rebuild"]}
    assert cli_main(["attribution", "index", "--input", str(run), "--output", str(index)]) == 0
    capsys.readouterr()
    assert cli_main(["data", "opt-out", str(run), "--check", "--shards", str(shards), "--index", str(index)]) == 0
    check = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert check["kept"] == "clean" and check["index"].startswith("clean") and check["shards"].startswith("clean")
