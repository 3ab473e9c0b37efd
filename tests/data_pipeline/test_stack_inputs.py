"""Inputs in The Stack's schema: JSONL, Parquet, and a local `datasets` directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_pipeline.curate import CurateConfig, curate
from data_pipeline.readers.inputs import input_format
from tests.data_pipeline.conftest import STDLIB
from tests.data_pipeline.helpers import kept_records, outcomes

SCANNER = (STDLIB / "json" / "scanner.py").read_text()
COLORSYS = (STDLIB / "colorsys.py").read_text()


def stack_row(repo: str, path: str, content: str, stars: int = 0, licences=("MIT",), **extra) -> dict:
    return {"content": content, "max_stars_repo_name": repo, "max_stars_repo_path": path, "max_stars_count": stars,
            "max_stars_repo_licenses": list(licences), "lang": "Python", "size": len(content.encode()),
            "max_stars_repo_stars_event_max_datetime": extra.pop("updated", None), "hexsha": f"{abs(hash(path)):x}",
            **extra}


ROWS = [
    stack_row("octo/small", "lib/scanner.py", SCANNER.replace("NUMBER_RE", "NUMBER_PATTERN", 1), stars=3),
    stack_row("octo/big", "vendor/scanner.py", SCANNER, stars=500),
    stack_row("octo/colors", "colorsys.py", COLORSYS, stars=10, licences=("MIT", "Apache-2.0")),
    stack_row("octo/gpl", "colorsys.py", COLORSYS + "\n# fork\n", licences=("GPL-3.0-only",)),
    stack_row("octo/either", "colors.py", COLORSYS + "\n# dual\n", licences=("MIT OR GPL-2.0",)),
    stack_row("octo/none", "a.py", COLORSYS + "\n# none\n", licences=()),
    stack_row("octo/empty", "empty.py", ""),
]
EXPECTED = {
    "octo/small/lib/scanner.py": "near_duplicate",  # fewer stars than octo/big's copy
    "octo/big/vendor/scanner.py": "kept",
    "octo/colors/colorsys.py": "kept",
    "octo/gpl/colorsys.py": "non_permissive_licence",
    "octo/either/colors.py": "near_duplicate",
    "octo/none/a.py": "unknown_licence",
    "octo/empty/empty.py": "empty",
}


def check(out: Path) -> None:
    found = outcomes(out)
    assert {k: v[0][1]["metadata"].get("reason", "kept") for k, v in found.items()} == EXPECTED
    kept = kept_records(out)["octo/big/vendor/scanner.py"]["metadata"]
    assert (kept["repo"], kept["path"], kept["lang"], kept["licence"], kept["stars"]) == (
        "octo/big", "vendor/scanner.py", "Python", "MIT", 500)
    assert kept_records(out)["octo/colors/colorsys.py"]["metadata"]["licence"] == "MIT AND Apache-2.0"


def test_jsonl_in_stack_schema(tmp_path: Path):
    path = tmp_path / "the-stack-sample.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert input_format(CurateConfig(input=str(path))) == "stack"
    stats = curate(CurateConfig(input=str(path), output=tmp_path / "out", tasks=1, workers=1))
    assert stats["totals"]["files"] == len(ROWS)
    check(tmp_path / "out")


def test_parquet_folder_in_stack_schema(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS[:4]), folder / "train-00000.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS[4:]), folder / "train-00001.parquet")
    assert input_format(CurateConfig(input=str(folder))) == "stack"
    curate(CurateConfig(input=str(folder), output=tmp_path / "out", tasks=2, workers=1))
    check(tmp_path / "out")


@pytest.mark.slow
def test_local_datasets_directory(tmp_path: Path):
    pytest.importorskip("datasets")
    folder = tmp_path / "the-stack-smol"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    cfg = CurateConfig(input=f"hf:{folder}", output=tmp_path / "out", tasks=1, workers=1)
    assert input_format(cfg) == "hf"
    curate(cfg)
    check(tmp_path / "out")
