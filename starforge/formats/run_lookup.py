"""Reading a curate run back by repository: "Am I in The Stack?" (`starforge data lookup` and the
attribution server's /lookup page both call `lookup_records`).

Which of a repository's (or an owner's) files a run kept, and which it removed and why (the step,
the reason, and for licence removals the blocking licence; for duplicates the copy kept; for
opt-outs the list line), from `kept/` and `removed/<step>/` (the records format, records.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from starforge.errors import DataError
from starforge.formats.records import read_records, record_files


def lookup_records(run_dir: Path, repo: str | None = None, owner: str | None = None) -> dict:
    """{"query", "kept": [...], "removed": [...], "counts"} for the repository or owner."""
    run = Path(run_dir)
    if not (run / "kept").is_dir():
        raise DataError(f"{run}: no kept/ folder; pass the output folder of `starforge data curate`")
    if bool(repo) == bool(owner):
        raise DataError("lookup needs exactly one of --repo owner/name and --owner owner")
    query = {"repo": repo} if repo else {"owner": owner}
    kept, removed = [], []
    for where, record in _records(run):
        meta = record.get("metadata") or {}
        name = str(meta.get("repo") or "")
        if (repo and name.lower() != repo.lower()) or (owner and name.split("/")[0].lower() != owner.lower()):
            continue
        row = {"id": record.get("id"), "repo": name, "path": meta.get("path"), "licence": meta.get("licence"),
               "licence_source": meta.get("licence_source")}
        if where == "kept":
            kept.append(row)
            continue
        row.update(step=where, reason=meta.get("reason"))
        for key in ("non_permissive", "duplicate_of", "opt_out_entry", "read_error"):
            if meta.get(key):
                row[key] = meta[key]
        removed.append(row)
    kept.sort(key=lambda r: str(r["id"]))
    removed.sort(key=lambda r: str(r["id"]))
    reasons: dict[str, int] = {}
    for row in removed:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    return {"query": query, "run_dir": str(run), "kept": kept, "removed": removed,
            "counts": {"kept": len(kept), "removed": len(removed), "removed_by_reason": reasons}}


def _records(run: Path) -> Iterator[tuple[str, dict]]:
    for path in record_files(run / "kept"):
        for record in read_records(path):
            yield "kept", record
    removed = run / "removed"
    for step in sorted(p for p in removed.iterdir() if p.is_dir()) if removed.is_dir() else ():
        for path in record_files(step):
            for record in read_records(path):
                yield step.name, record
