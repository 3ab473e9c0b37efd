from __future__ import annotations

import json

from attribution_corpus import STDLIB, function_lines, lines_of

from attribution.cli import main
from starforge.cli import main as starforge_main


def test_check_json_is_the_api_object(att, index_dir, capsys):
    start, end = function_lines(STDLIB / "textwrap.py", "indent")
    snippet = lines_of(STDLIB / "textwrap.py", start, end)
    assert main(["check", str(index_dir), snippet, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == att.check(snippet)


def test_check_table_names_file_and_lines(index_dir, tmp_path, capsys):
    start, end = function_lines(STDLIB / "textwrap.py", "indent")
    snippet_file = tmp_path / "gen.py"
    snippet_file.write_text(lines_of(STDLIB / "textwrap.py", start, end))
    assert main(["check", str(index_dir), "--file", str(snippet_file)]) == 0
    out = capsys.readouterr().out
    assert "membership: 1.00" in out and f"textwrap.py  {start}-{end}" in out and "MIT" in out


def test_index_command_builds_and_reports(corpus, tmp_path, capsys):
    assert main(["index", "--input", str(corpus), "--output", str(tmp_path / "idx"),
                 "--set", "source.extensions=[.py]"]) == 0
    assert "11 files" in capsys.readouterr().out
    assert (tmp_path / "idx" / "manifest.json").is_file()


def test_user_errors_are_one_line_and_exit_2(index_dir, tmp_path, capsys):
    cases = [
        ["attribution", "check", str(tmp_path / "missing"), "def f(): pass"],
        ["attribution", "check", str(index_dir), ""],
        ["attribution", "check", str(index_dir)],
        ["attribution", "check", str(index_dir), "--file", str(tmp_path / "nope.py")],
        ["attribution", "index", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "idx")],
        ["attribution", "index", "--input", str(tmp_path), "--output", str(tmp_path / "idx"), "--set", "bloom.ngrm=3"],
    ]
    for argv in cases:
        assert starforge_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
