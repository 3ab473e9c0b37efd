"""#18 §5: file names that are not UTF-8 (a Latin-1 `café.py`) in `attribution index`."""

from __future__ import annotations

import os

from attribution_corpus import STDLIB, function_lines, lines_of, write_kept

from attribution import Attributor, build_index
from attribution.config import AttributionConfig
from starforge.cli import main as starforge_main


def test_non_utf8_names_in_a_folder_are_indexed_with_escaped_names(tmp_path):
    src = STDLIB / "bisect.py"
    repo = tmp_path / "src" / os.fsdecode(b"r\xe9po")
    repo.mkdir(parents=True)
    (repo / os.fsdecode(b"caf\xe9.py")).write_bytes(src.read_bytes())
    build_index(AttributionConfig(input=tmp_path / "src", output=tmp_path / "idx"))
    start, end = function_lines(src, "insort_left")
    with Attributor(tmp_path / "idx") as att:
        result = att.check(lines_of(src, start, end))
    top = result["exact"][0]
    assert (top["repo"], top["path"], top["id"]) == ("r\\xe9po", "caf\\xe9.py", "r\\xe9po/caf\\xe9.py")
    assert (top["start_line"], top["end_line"]) == (start, end)
    assert result["search"][0]["path"] == "caf\\xe9.py"


def test_kept_file_with_a_non_utf8_name_is_a_one_line_error(tmp_path, capsys):
    kept = write_kept(tmp_path / "data" / "kept" / os.fsdecode(b"0000\xe9.jsonl.gz"),
                      [("r", "bisect.py", STDLIB / "bisect.py")])
    argv = ["attribution", "index", "--input", str(tmp_path / "data"), "--output", str(tmp_path / "idx")]
    assert starforge_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "0000\\xe9.jsonl.gz" in err and "not UTF-8" in err
    assert kept.is_file() and not (tmp_path / "idx" / "manifest.json").exists()
