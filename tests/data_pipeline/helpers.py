from __future__ import annotations

from pathlib import Path

from starforge.formats.records import read_records, record_files


def outcomes(out: Path) -> dict[str, list[tuple[str, dict]]]:
    """id -> [(where, record)] over kept/ and every removed/<step>/ of a curate output."""
    found: dict[str, list[tuple[str, dict]]] = {}
    folders = [("kept", out / "kept")] + [(p.name, p) for p in sorted((out / "removed").iterdir())]
    for where, folder in folders:
        for path in record_files(folder):
            for record in read_records(path):
                found.setdefault(record["id"], []).append((where, record))
    return found


def kept_records(out: Path) -> dict[str, dict]:
    return {r["id"]: r for p in record_files(out / "kept") for r in read_records(p)}


def kept_texts(out: Path) -> dict[str, str]:
    return {doc_id: r["text"] for doc_id, r in kept_records(out).items()}


def training_text(record: dict) -> str:
    """What a shard's sequence decodes to (without the final EOD): the metadata prefix, then the
    text with a structured notebook's sentinels in place."""
    meta = record["metadata"]
    prefix = "".join(token + value for token, value in meta.get("prefix") or [])
    if prefix:
        prefix += "\n"
    segments = meta.get("segments")
    if not segments:
        return prefix + record["text"]
    body, pos = [], 0
    for token, length in segments:
        body.append(token + record["text"][pos:pos + length])
        pos += length
    return prefix + "".join(body)
