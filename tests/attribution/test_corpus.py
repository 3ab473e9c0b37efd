from __future__ import annotations

import gzip
import json

import pytest
from attribution_corpus import STDLIB, write_kept

from attribution.config import SourceConfig
from attribution.corpus import detect_licence, find_shards, read_folder
from starforge.errors import FormatError
from starforge.formats.records import read_kept


def test_record_missing_a_field_names_file_and_line(tmp_path):
    path = write_kept(tmp_path / "kept" / "00000.jsonl.gz", [("r", "heapq.py", STDLIB / "heapq.py")])
    with gzip.open(path, "at", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": "x = 1\n", "id": "r/x.py", "metadata": {"repo": "r", "path": "x.py"}}) + "\n")
    with pytest.raises(FormatError, match=r"00000\.jsonl\.gz:2: not a kept-file record \(missing field 'licence'\)"):
        list(read_kept(path))


def test_record_that_is_not_json_names_file_and_line(tmp_path):
    path = tmp_path / "kept" / "00000.jsonl"
    path.parent.mkdir()
    path.write_text('{"text": "a", "id": "1", "metadata": {"repo": "r", "path": "p", "licence": "MIT"}}\n{oops\n')
    with pytest.raises(FormatError, match=r"00000\.jsonl:2: not a kept-file record"):
        list(read_kept(path))


def test_licence_detected_from_licence_file_else_unknown(corpus):
    assert detect_licence(corpus / "textkit") == "MIT"
    assert detect_licence(corpus / "jsonlib") == "unknown"
    assert detect_licence(STDLIB) == "Python-2.0.1"  # CPython's LICENSE.txt, by SPDX's texts


def test_plain_folder_is_one_shard_of_repositories(corpus):
    shards = find_shards(corpus, SourceConfig())
    assert [(s.name, s.kind) for s in shards] == [("files", "folder")]
    files = {(f.repo, f.path) for f in read_folder(corpus, SourceConfig())}
    assert ("textkit", "heapq.py") in files and ("jsonlib", "json/decoder.py") in files
    assert not any(f[1] == "LICENSE" for f in files if f[0] == "jsonlib")


def test_binary_and_non_utf8_files_are_skipped(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "blob.bin").write_bytes(b"\x00\x01binary")
    (repo / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (repo / "ok.py").write_text("print('ok')\n")
    assert [f.path for f in read_folder(tmp_path, SourceConfig())] == ["ok.py"]


def test_extensions_filter_plain_folders(corpus):
    files = [f.path for f in read_folder(corpus, SourceConfig(extensions=[".py"]))]
    assert "LICENSE" not in files and "textwrap.py" in files
