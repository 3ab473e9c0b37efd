"""`starforge data lookup RUN_DIR --repo owner/name | --owner owner`: "Am I in The Stack?".

Which of a repository's (or an owner's) files a curate run kept, and which it removed and why
(the step, the reason, and for licence removals the blocking licence; for duplicates the copy
kept), read from kept/ and removed/<step>/ of the run. Printed as a table, or as JSON with
`json: true`; `lookup_records` is what attribution's server page calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from starforge.errors import DataError
from starforge.formats.records import read_records, record_files


@dataclass
class LookupConfig:
    run_dir: Path | None = None
    """A `starforge data curate` output folder (kept/, removed/)."""
    repo: str | None = None
    """A repository, `owner/name` as in records' `metadata.repo`."""
    owner: str | None = None
    """Every repository of this owner."""
    json: bool = False
    """Print JSON instead of a table."""


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


def lookup(cfg: LookupConfig) -> dict:
    if cfg.run_dir is None:
        raise DataError("lookup needs RUN_DIR, the output folder of `starforge data curate`")
    result = lookup_records(Path(cfg.run_dir), cfg.repo, cfg.owner)
    print(json.dumps(result, indent=2) if cfg.json else format_table(result))
    return result


def format_table(result: dict) -> str:
    who = result["query"].get("repo") or f"{result['query'].get('owner')}/*"
    c = result["counts"]
    lines = [f"{who}: {c['kept']} files kept, {c['removed']} removed"
             + (f" ({', '.join(f'{r} {n}' for r, n in sorted(c['removed_by_reason'].items()))})" if c["removed"] else "")]
    rows = [("kept", r["repo"], r["path"], r["licence"], "") for r in result["kept"]]
    rows += [(r["reason"], r["repo"], r["path"], r["licence"],
              r.get("non_permissive") or r.get("duplicate_of") or r.get("opt_out_entry") or r.get("read_error") or "")
             for r in result["removed"]]
    if rows:
        header = ("status", "repo", "path", "licence", "detail")
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for row in (header, *rows):
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
