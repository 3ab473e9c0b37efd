"""The Stack v2's schema (rows with content, and content fetched by blob_id from a blob store), and
Stack records that are not records: unparsable JSONL lines, non-string content, fake Parquet."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from data_pipeline.curate import CurateConfig, curate
from data_pipeline.readers.stack_v2 import BlobStore
from starforge.cli import main as cli_main
from starforge.errors import ConfigError, DataError
from tests.data_pipeline.conftest import PACKAGES, STDLIB
from tests.data_pipeline.helpers import kept_records, outcomes

SCANNER = (STDLIB / "json" / "scanner.py").read_text()
COLORSYS = (STDLIB / "colorsys.py").read_text()
ORJSON_STUB = (PACKAGES / "orjson-3.13.0" / "orjson" / "__init__.py").read_text()  # SPDX: MPL-2.0


def v2_row(repo: str, path: str, content: str | None, blob_id: str, stars: int = 0, detected=("MIT",),
           **extra) -> dict:
    """One row as bigcode/the-stack-v2 has them (its columns, the values made up)."""
    row = {"blob_id": blob_id, "directory_id": "d" * 40, "path": "/" + path, "content_id": "c" * 40,
           "detected_licenses": list(detected), "license_type": "permissive" if detected else "no_license",
           "repo_name": repo, "snapshot_id": "s" * 40, "revision_id": "r" * 40, "branch_name": "refs/heads/main",
           "visit_date": "2023-09-01T00:00:00", "revision_date": extra.pop("revision_date", "2023-01-01T00:00:00"),
           "committer_date": "2023-01-01T00:00:00", "github_id": 1, "star_events_count": stars,
           "fork_events_count": 0, "gha_license_id": extra.pop("gha", None), "gha_event_created_at": None,
           "gha_created_at": None, "gha_language": "Python", "src_encoding": "UTF-8", "language": "Python",
           "is_vendor": False, "is_generated": False, "length_bytes": len((content or "").encode()),
           "extension": "py", **extra}
    if content is not None:
        row["content"] = content
    return row


ROWS = [
    v2_row("octo/small", "lib/scanner.py", SCANNER.replace("NUMBER_RE", "NUMBER_PATTERN", 1), "b1", stars=3),
    v2_row("octo/big", "vendor/scanner.py", SCANNER, "b2", stars=500),
    v2_row("octo/gpl", "colorsys.py", COLORSYS, "b3", detected=("GPL-3.0-only",)),
    v2_row("octo/gha", "colors.py", COLORSYS + "\n# gha\n", "b4", detected=(), gha="Apache-2.0"),
    v2_row("octo/none", "a.py", COLORSYS + "\n# none\n", "b5", detected=()),
    v2_row("octo/header", "orjson/__init__.py", ORJSON_STUB, "b6"),
]
EXPECTED = {
    "octo/small/lib/scanner.py": "near_duplicate",  # fewer stars (star_events_count) than octo/big's copy
    "octo/big/vendor/scanner.py": "kept",
    "octo/gpl/colorsys.py": "non_permissive_licence",
    "octo/gha/colors.py": "kept",
    "octo/none/a.py": "unknown_licence",
    "octo/header/orjson/__init__.py": "non_permissive_licence",  # its SPDX header outranks detected_licenses
}


def reasons(out: Path) -> dict[str, str]:
    return {k: v[0][1]["metadata"].get("reason", "kept") for k, v in outcomes(out).items()}


def test_v2_rows_with_content(tmp_path: Path):
    path = tmp_path / "the-stack-v2-sample.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    curate(CurateConfig(input=str(path), output=tmp_path / "out", tasks=1, workers=1))
    assert reasons(tmp_path / "out") == EXPECTED
    kept = kept_records(tmp_path / "out")
    big = kept["octo/big/vendor/scanner.py"]["metadata"]
    assert (big["repo"], big["path"], big["licence"], big["licence_source"], big["stars"], big["updated"]) == (
        "octo/big", "vendor/scanner.py", "MIT", "stack:detected_licenses", 500, "2023-01-01T00:00:00")
    assert big["blob_id"] == "b2" and big["commit"] == "r" * 40
    gha = kept["octo/gha/colors.py"]["metadata"]
    assert (gha["licence"], gha["licence_source"]) == ("Apache-2.0", "stack:gha_license_id")
    header = outcomes(tmp_path / "out")["octo/header/orjson/__init__.py"][0][1]["metadata"]
    assert (header["licence_source"], header["non_permissive"]) == ("spdx_header", "MPL-2.0")


def test_v2_parquet_with_content_fetched_from_a_blob_store(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = tmp_path / "blobs"
    store.mkdir()
    rows = []
    for row in ROWS[:2]:
        (store / f"{row['blob_id']}.gz").write_bytes(gzip.compress(row["content"].encode()))  # as the bucket holds them
        rows.append({k: v for k, v in row.items() if k != "content"})
    rows.append(v2_row("octo/missing", "gone.py", None, "b404"))
    folder = tmp_path / "v2"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "train-00000.parquet")
    curate(CurateConfig(input=str(folder), output=tmp_path / "out", tasks=1, workers=1, blob_store=str(store)))
    assert reasons(tmp_path / "out") == {"octo/small/lib/scanner.py": "near_duplicate",
                                         "octo/big/vendor/scanner.py": "kept", "octo/missing/gone.py": "unreadable"}
    assert kept_records(tmp_path / "out")["octo/big/vendor/scanner.py"]["text"] == SCANNER
    missing = outcomes(tmp_path / "out")["octo/missing/gone.py"][0][1]["metadata"]
    assert "blob b404 not fetched" in missing["read_error"]


def test_v2_rows_without_content_and_no_blob_store_are_removed_with_the_reason(tmp_path: Path):
    path = tmp_path / "v2.jsonl"
    path.write_text(json.dumps({k: v for k, v in ROWS[1].items() if k != "content"}) + "\n")
    curate(CurateConfig(input=str(path), output=tmp_path / "out", tasks=1, workers=1))
    [(where, record)] = outcomes(tmp_path / "out")["octo/big/vendor/scanner.py"]
    assert where == "unreadable" and "no blob_store configured" in record["metadata"]["read_error"]


def test_blob_store_must_be_a_folder_or_a_known_scheme(tmp_path: Path):
    with pytest.raises(ConfigError, match="blob_store"):
        BlobStore(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="blob_id"):
        BlobStore("https://example.org/content/")


def test_unparsable_jsonl_line_and_non_string_content_are_counted_removals(tmp_path: Path):
    path = tmp_path / "stack.jsonl"
    good = {"content": COLORSYS, "max_stars_repo_name": "octo/ok", "max_stars_repo_path": "colorsys.py",
            "max_stars_repo_licenses": ["MIT"]}
    bad = dict(good, content=42, max_stars_repo_name="octo/int")
    path.write_text(json.dumps(good) + "\n" + '{"content": "x", oops\n' + json.dumps(bad) + "\n" + "[1, 2]\n")
    stats = curate(CurateConfig(input=str(path), output=tmp_path / "out", tasks=1, workers=1))
    found = outcomes(tmp_path / "out")
    assert found["octo/ok/colorsys.py"][0][0] == "kept"
    assert stats["totals"]["files"] == 4 and stats["totals"]["removed_by_reason"]["invalid_record"] == 3
    assert found[f"{path.name}:2"][0][1]["metadata"]["reason"] == "invalid_record"
    assert "line 2: not a record" in found[f"{path.name}:2"][0][1]["metadata"]["read_error"]
    assert found["octo/int/colorsys.py"][0][1]["metadata"]["read_error"] == "`content` is int, not a string"
    assert "not an object" in found[f"{path.name}:4"][0][1]["metadata"]["read_error"]


def test_file_named_parquet_that_is_not_parquet_is_one_line(tmp_path: Path, capsys):
    fake = tmp_path / "data" / "train.parquet"
    fake.parent.mkdir()
    fake.write_text("this is not parquet\n")
    with pytest.raises(DataError, match="train.parquet: not a Parquet file"):
        curate(CurateConfig(input=str(fake.parent), output=tmp_path / "out", tasks=1, workers=1))
    assert cli_main(["data", "curate", "--input", str(fake), "--output", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a Parquet file" in err[0]
