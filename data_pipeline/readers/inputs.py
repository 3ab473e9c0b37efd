"""Which reader reads `CurateConfig.input`:

    builtin:stdlib, a folder of repositories   RepositoryReader (one repo per sub-folder)
    a .yaml list of checked-out repositories   RepositoryReader (readers/sources.py list_repository_list)
    a .jsonl[.gz] / .parquet file, or a folder holding only such files
                                               The Stack's schema (readers/stack.py)
    hf:NAME_OR_DIR                             a `datasets` dataset in The Stack's schema

`input_format` forces one (`repositories`, `stack`, `hf`); `auto` decides as above.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datatrove.pipeline.readers.base import BaseReader

from data_pipeline.readers.repositories import RepositoryReader
from data_pipeline.readers.stack import stack_dataset_reader, stack_files_reader
from starforge.errors import DataError

if TYPE_CHECKING:
    from data_pipeline.config import CurateConfig

RECORD_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".parquet")


def input_format(cfg: CurateConfig) -> str:
    if cfg.input_format != "auto":
        return cfg.input_format
    if cfg.input.startswith("hf:"):
        return "hf"
    if cfg.input.startswith("builtin:"):
        return "repositories"
    path = Path(cfg.input)
    if path.is_file() and path.name.endswith(RECORD_SUFFIXES):
        return "stack"
    if path.is_dir():
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        if entries and all(p.is_file() and p.name.endswith(RECORD_SUFFIXES) for p in entries):
            return "stack"
    return "repositories"


def input_reader(cfg: CurateConfig, listing: Path) -> BaseReader:
    fmt = input_format(cfg)
    if fmt == "repositories":
        return RepositoryReader(cfg.input, cfg.max_file_bytes, cfg.include_site_packages, cfg.site_packages,
                                listing=str(listing))
    if fmt == "hf":
        return stack_dataset_reader(cfg.input.removeprefix("hf:"), cfg.hf_split)
    path = Path(cfg.input)
    if not path.exists():
        raise DataError(f"input '{path}': no such file or folder")
    folder, pattern = (str(path.parent), path.name) if path.is_file() else (str(path), None)
    parquet = (path.suffix == ".parquet") if path.is_file() else any(path.glob("*.parquet"))
    if pattern is None:
        pattern = "*.parquet" if parquet else "*.json*"
    return stack_files_reader(folder, pattern, parquet)
