"""The kept/ folder that `train-tokenizer` and `tokenize` read, checked before any work.

datatrove's `JsonlReader` logs a warning and moves on when a gzip member is truncated or a line
does not parse, so `tokenize` would write short shards in silence; a killed `curate` leaves a
kept/ with some ranks missing or half written. So both commands check the folder first:

- kept/ inside a curate run folder (config.yaml, logs/) without its stats.json is an unfinished
  run: refused, naming the folder (curate writes stats.json last);
- every record file is read through `read_records` (gzip to its end, every line a record), so a
  truncated or non-gzip file, or a bad line, is one FormatError naming the file (and line).
  Reading costs about 1% of tokenizing (docs/data_pipeline.md, measured on a loaded machine).
"""

from __future__ import annotations

from pathlib import Path

from starforge.errors import DataError
from starforge.formats.records import read_records, record_files

HOW = "pass the kept/ folder written by `starforge data curate`"


def kept_files(kept: Path, validate: bool = True) -> list[Path]:
    """The record files of `kept`, after the checks above (`validate`: read every file)."""
    kept = Path(kept)
    if not kept.is_dir():
        raise DataError(f"input '{kept}': no such folder; {HOW}")
    run = kept.parent
    if (run / "config.yaml").is_file() and (run / "logs").is_dir() and not (run / "stats.json").is_file():
        raise DataError(f"input '{kept}': {run} is an unfinished `starforge data curate` run (no stats.json; "
                        "killed, or Slurm jobs still running); rerun the same curate command to finish it")
    files = record_files(kept)
    if not files:
        raise DataError(f"input '{kept}': no .jsonl.gz files; {HOW}")
    if validate:
        for path in files:
            for _ in read_records(path):
                pass
    return files
