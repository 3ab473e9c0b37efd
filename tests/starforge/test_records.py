"""Curated-file records on real kept files, written by the data chain's writer (datatrove's
`JsonlWriter` with our adapter) and read back by the one reader, in both of its views."""

from __future__ import annotations

import gzip
import json
import sysconfig
from pathlib import Path

import pytest
from datatrove.data import Document, Media, MediaType

from starforge.errors import FormatError
from starforge.formats.records import KeptFile, read_kept, read_records, record_files, records_writer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FILES = ("json/decoder.py", "textwrap.py", "colorsys.py")


def _documents() -> list[Document]:
    docs = []
    for name in FILES:
        data = (STDLIB / name).read_bytes()
        meta = {"repo": f"cpython/{name.split('/')[0].removesuffix('.py')}", "path": name, "lang": "Python",
                "licence": "PSF-2.0", "size": len(data)}
        docs.append(Document(text=data.decode("utf-8"), id=f"cpython/Lib/{name}", metadata=meta,
                             media=[Media(id=name, type=MediaType.DOCUMENT, url=str(STDLIB / name), media_bytes=data)]))
    docs.append(Document(text="", id="cpython/Lib/blob.bin", metadata={
        "repo": "cpython/Lib", "path": "blob.bin", "lang": "unknown", "licence": "PSF-2.0", "size": 9,
        "filter_reason": "binary"}))
    return docs


def _write(folder: Path, compression: str | None = "gzip") -> Path:
    writer = records_writer(folder, compression)
    list(writer.run(iter(_documents()), rank=0, world_size=1))
    return folder


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("records") / "kept")


def test_writer_output_reads_back_as_records(kept: Path):
    [path] = record_files(kept)
    assert path.name == "00000.jsonl.gz"
    records = list(read_records(path))
    assert [r["id"] for r in records] == [d.id for d in _documents()]
    assert records[1]["text"] == (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    assert records[-1]["metadata"]["reason"] == "binary" and "filter_reason" not in records[-1]["metadata"]
    assert all(set(r) == {"text", "id", "metadata"} for r in records)  # media bytes are never written


def test_kept_view_has_the_fields_attribution_indexes(kept: Path):
    files = list(read_kept(record_files(kept)[0]))
    assert files[0] == KeptFile(text=(STDLIB / "json/decoder.py").read_text(encoding="utf-8"),
                                id="cpython/Lib/json/decoder.py", repo="cpython/json", path="json/decoder.py",
                                licence="PSF-2.0", lang="Python")
    assert files[0].metadata() == {"id": "cpython/Lib/json/decoder.py", "repo": "cpython/json",
                                   "path": "json/decoder.py", "licence": "PSF-2.0", "lang": "Python"}


def test_gzip_records_are_byte_identical_from_run_to_run(kept: Path, tmp_path: Path):
    again = _write(tmp_path / "kept")
    assert record_files(again)[0].read_bytes() == record_files(kept)[0].read_bytes()


def test_uncompressed_writer_reads_the_same(kept: Path, tmp_path: Path):
    plain = _write(tmp_path / "filtered", compression=None)
    [path] = record_files(plain)
    assert path.name == "00000.jsonl"
    assert list(read_records(path)) == list(read_records(record_files(kept)[0]))


def test_record_files_are_the_jsonl_files_in_rank_order(tmp_path: Path):
    for name in ("00002.jsonl.gz", "00000.jsonl.gz", "00001.jsonl", "notes.txt", "00003.jsonl.tmp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.jsonl").mkdir()
    assert [p.name for p in record_files(tmp_path)] == ["00000.jsonl.gz", "00001.jsonl", "00002.jsonl.gz"]
    assert record_files(tmp_path / "missing") == []


def _append(path: Path, line: str) -> None:
    with gzip.open(path, "at", encoding="utf-8") as fh:
        fh.write(line + "\n")


def test_broken_record_names_file_and_line_in_both_views(kept: Path, tmp_path: Path):
    path = tmp_path / "00000.jsonl.gz"
    path.write_bytes(record_files(kept)[0].read_bytes())
    n = len(FILES) + 1
    _append(path, json.dumps({"text": "x = 1\n", "id": "r/x.py", "metadata": {"repo": "r", "path": "x.py"}}))
    assert len(list(read_records(path))) == n + 1  # a curated record: text and metadata are enough
    with pytest.raises(FormatError, match=rf"00000\.jsonl\.gz:{n + 1}: not a kept-file record "
                                          r"\(missing field 'licence'\); regenerate it with `starforge data curate`"):
        list(read_kept(path))
    _append(path, '{"text": 3, "metadata": {}}')
    with pytest.raises(FormatError, match=rf"00000\.jsonl\.gz:{n + 2}: not a curated-file record"):
        list(read_records(path))
