"""The curated-file record: one JSON object per line in `kept/*.jsonl.gz` and `removed/<step>/*.jsonl.gz`.

    {"text": "...", "id": "cpython/Lib/json/decoder.py",
     "metadata": {"repo": "cpython/json", "path": "json/decoder.py", "lang": "Python",
                  "licence": "PSF-2.0", "size": 12472, "sha256": "..."}}

Removed records add `metadata.reason` (`binary`, `invalid_utf8`, `empty`, `too_large`,
`unreadable`, `exact_duplicate`) and have text "" when the content could not be kept. Written by
datatrove's `JsonlWriter` with `record_adapter`; read back with `read_records`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
from datatrove.data import Document
from datatrove.pipeline.writers.jsonl import JsonlWriter

from starforge.errors import FormatError

OUTPUT_FILENAME = "${rank}.jsonl.gz"


def record_adapter(self, document: Document) -> dict:
    """Writer adapter: text (even when empty), id and metadata; datatrove's `filter_reason` becomes
    `reason`, and the raw bytes the reader carried in `media` are never written."""
    metadata = dict(document.metadata)
    if "filter_reason" in metadata:
        metadata["reason"] = metadata.pop("filter_reason")
    return {"text": document.text, "id": document.id, "metadata": metadata}


def records_writer(folder: Path, compression: str | None = "gzip") -> JsonlWriter:
    filename = OUTPUT_FILENAME if compression == "gzip" else OUTPUT_FILENAME.removesuffix(".gz")
    return JsonlWriter(str(folder), output_filename=filename, compression=compression, adapter=record_adapter)


def record_files(folder: Path) -> list[Path]:
    """The JSONL files of a kept/ or removed/<step>/ folder, in rank order."""
    return sorted(p for p in folder.glob("*.jsonl*") if p.is_file())


def read_records(path: Path) -> Iterator[dict]:
    """Records of one JSONL(.gz) file; a malformed line raises FormatError naming file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            try:
                record = orjson.loads(line)
                if not isinstance(record.get("text"), str) or not isinstance(record.get("metadata"), dict):
                    raise KeyError("text/metadata")
            except (orjson.JSONDecodeError, KeyError, AttributeError) as exc:
                raise FormatError(f"{path}:{lineno}: not a curated-file record ({exc}); "
                                  "regenerate it with `starforge data curate`") from None
            yield record
