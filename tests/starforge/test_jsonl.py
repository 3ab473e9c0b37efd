"""JSON lines, plain or gzip: what every format's reader says about a broken file."""

from __future__ import annotations

import gzip
import json

import pytest

from starforge.errors import FormatError
from starforge.formats.jsonl import read_jsonl, write_jsonl

ROWS = [{"task_id": "HumanEval/0", "n": 2, "text": "déjà vu\n"}, {"task_id": "HumanEval/1", "n": 0, "text": ""}]


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz"])
def test_rows_written_are_read_back_in_order(tmp_path, name):
    path = tmp_path / "sub" / name
    assert write_jsonl(path, ROWS) == 2
    assert list(read_jsonl(path)) == ROWS


def test_gzip_output_is_byte_identical_from_run_to_run(tmp_path):
    write_jsonl(tmp_path / "a.jsonl.gz", ROWS)
    write_jsonl(tmp_path / "b.jsonl.gz", ROWS)
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    with gzip.open(tmp_path / "a.jsonl.gz", "rt", encoding="utf-8") as fh:
        assert [json.loads(line) for line in fh] == ROWS


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n   \n" + json.dumps(ROWS[1]) + "\n")
    assert list(read_jsonl(path)) == ROWS


def test_line_that_does_not_parse_names_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n{\"task_id\": \n")
    with pytest.raises(FormatError, match=r"rows\.jsonl:3: not a result row \(.+\); rerun it") as info:
        list(read_jsonl(path, what="a result row", how="rerun it"))
    assert len(str(info.value).splitlines()) == 1


def test_rejected_value_says_which_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [ROWS[0], {"n": 1}])
    with pytest.raises(FormatError, match=r"rows\.jsonl:2: not a result row \(missing field 'task_id'\)"):
        list(read_jsonl(path, lambda row: (row["task_id"], row["n"]), what="a result row"))


def test_truncated_gzip_is_unreadable_after_its_good_lines(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    write_jsonl(path, [{"text": "x" * 2000, "i": i} for i in range(50)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    seen = []
    with pytest.raises(FormatError, match=r"rows\.jsonl\.gz: unreadable \("):
        for row in read_jsonl(path):
            seen.append(row["i"])
    assert seen == list(range(len(seen)))


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(FormatError, match=r"nowhere\.jsonl: unreadable"):
        list(read_jsonl(tmp_path / "nowhere.jsonl"))
