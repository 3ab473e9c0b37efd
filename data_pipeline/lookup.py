"""`starforge data lookup RUN_DIR --repo owner/name | --owner owner`: "Am I in The Stack?".

Which of a repository's (or an owner's) files a curate run kept, and which it removed and why
(starforge/formats/run_lookup.py, shared with the attribution server's /lookup page), printed
as a table, or as JSON with `json: true`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from starforge.errors import DataError
from starforge.formats.run_lookup import lookup_records


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
