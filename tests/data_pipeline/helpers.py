from __future__ import annotations

from pathlib import Path

from data_pipeline.records import read_records, record_files


def outcomes(out: Path) -> dict[str, list[tuple[str, dict]]]:
    """id -> [(where, record)] over kept/ and every removed/<step>/ of a curate output."""
    found: dict[str, list[tuple[str, dict]]] = {}
    folders = [("kept", out / "kept")] + [(p.name, p) for p in sorted((out / "removed").iterdir())]
    for where, folder in folders:
        for path in record_files(folder):
            for record in read_records(path):
                found.setdefault(record["id"], []).append((where, record))
    return found


def kept_texts(out: Path) -> dict[str, str]:
    return {r["id"]: r["text"] for p in record_files(out / "kept") for r in read_records(p)}
