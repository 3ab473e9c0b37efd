"""`starforge data opt-out RUN_DIR --list FILE`: The Stack's opt-out process for a curate run.

FILE names, one per line (`#` starts a comment):

    octocat/hello-world        a repository (owner/name, as records' `metadata.repo`)
    octocat/*                  every repository of an owner
    octocat/hello-world/src/secret.py   a file (its id, or repo/path); `*` and `?` glob

Every kept record that matches moves from `kept/<shard>` to `removed/opted_out/<shard>` with
`metadata.reason: opted_out` and `metadata.opt_out_entry` (the list line that matched); only
the kept shards that held such a record are rewritten, so downstream builds that key on their
inputs' signatures (`starforge attribution index`: one index shard per kept file) rebuild only
those. The list is kept in the run as `opt_out/<UTC time>-<name>` and `curate` applies every list
there again after a re-run (`apply_saved_lists`). stats.json and the funnel gain an `opted_out`
step. Then a check confirms that no opted-out file remains in kept/, and, when given, in an
attribution index (`--index`: its shards' docs.jsonl) or a tokenize output (`--shards`: each
shard must have been rebuilt after the opt-out, from kept files holding none of them); the
summary names the kept shards that changed, i.e. what tokenize and attribution index rebuild.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from starforge.errors import DataError
from starforge.formats.records import read_records, record_files
from starforge.formats.shards import open_shard, shard_prefixes

log = logging.getLogger(__name__)

OPT_OUT_DIR = "opt_out"
REASON = "opted_out"


@dataclass
class OptOutConfig:
    run_dir: Path | None = None
    """A `starforge data curate` output folder (with kept/ and stats.json)."""
    list: Path | None = None
    """The opt-out list: repositories (owner/name), owners (owner/*) or file paths, one per line."""
    index: Path | None = None
    """An attribution index built from this run's kept/ (checked with `check`)."""
    shards: Path | None = None
    """A `starforge data tokenize` output built from this run's kept/: with a list, the shards made
    from changed kept files are marked for rebuilding; with `check`, every shard is checked."""
    check: bool = False
    """Only check (after rebuilding tokenize and attribution index) that no opted-out file remains."""


@dataclass(frozen=True)
class Entry:
    line: str
    kind: str  # "owner", "repo" or "path"

    def matches(self, record: dict) -> bool:
        meta = record.get("metadata") or {}
        repo = str(meta.get("repo") or "")
        if self.kind == "owner":
            return repo.split("/")[0].lower() == self.line[:-2].lower()
        if self.kind == "repo":
            return repo.lower() == self.line.lower()
        full = f"{repo}/{meta.get('path', '')}"
        names = (str(record.get("id", "")), full)
        return any(n == self.line or fnmatch.fnmatchcase(n, self.line) for n in names)


def parse_list(path: Path) -> list[Entry]:
    """The entries of an opt-out list; a line that is none of the three forms is an error naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the opt-out list ({exc})") from None
    entries = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("/*") and line.count("/") == 1 and len(line) > 2:
            entries.append(Entry(line, "owner"))
        elif line.count("/") == 1 and not any(c in line for c in "*?["):
            entries.append(Entry(line, "repo"))
        elif "/" in line:
            entries.append(Entry(line, "path"))
        else:
            raise DataError(f"{path}:{lineno}: '{line}' is not owner/name, owner/* or a file path; "
                            "write one of those per line")
    return entries


def opt_out(cfg: OptOutConfig) -> dict:
    """Apply the list (save it in the run, update stats and funnel, mark changed token shards), or
    with `check` confirm nothing opted out remains downstream; returns the summary."""
    if cfg.run_dir is None:
        raise DataError("opt-out needs RUN_DIR, the output folder of `starforge data curate`")
    run = Path(cfg.run_dir)
    if not (run / "kept").is_dir():
        raise DataError(f"{run}: no kept/ folder; pass the output folder of `starforge data curate`")
    if cfg.check:
        result = check(run, cfg.index, cfg.shards)
        log.info("opt-out check: %s", ", ".join(f"{k} {v}" for k, v in result.items()))
        print(json.dumps(result))
        return result
    if cfg.list is None:
        raise DataError("opt-out needs --list FILE (repositories, owner/* or paths, one per line), or --check")
    entries = parse_list(Path(cfg.list))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    saved = run / OPT_OUT_DIR / f"{stamp}-{Path(cfg.list).name}"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(Path(cfg.list).read_text(encoding="utf-8"), encoding="utf-8")
    result = apply_entries(run, entries, stamp)
    result["list"] = str(saved)
    if cfg.shards is not None:
        result["shards_to_rebuild"] = invalidate_shards(run, Path(cfg.shards), result["changed_shards"])
    result["check"] = check(run)
    (run / OPT_OUT_DIR / "last.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    changed = ", ".join(result["changed_shards"]) or "none"
    log.info("opt-out: %d kept files moved to removed/%s (%d list lines); kept files changed: %s; "
             "`starforge data tokenize` and `starforge attribution index` rebuild only what these feed, "
             "then `starforge data opt-out %s --check` confirms", result["moved"], REASON, len(entries), changed, run)
    print(json.dumps(result))
    return result


def saved_entries(run: Path) -> list[Entry]:
    return [e for path in sorted((run / OPT_OUT_DIR).glob("*")) if path.suffix != ".json"
            for e in parse_list(path)]


def apply_saved_lists(run: Path) -> dict | None:
    """Every list saved in the run applied again (curate calls this after its stages, before it
    writes stats.json, then `with_opt_out_step`)."""
    entries = saved_entries(run)
    if not entries:
        return None
    return apply_entries(run, entries, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), update_stats=False)


def apply_entries(run: Path, entries: list[Entry], stamp: str, update_stats: bool = True) -> dict:
    moved_total, changed = 0, []
    out_dir = run / "removed" / REASON
    for shard in record_files(run / "kept"):
        keep, moved = [], []
        for record in read_records(shard):
            entry = next((e for e in entries if e.matches(record)), None)
            if entry is None:
                keep.append(record)
                continue
            meta = record["metadata"]
            meta["reason"], meta["opt_out_entry"], meta["opted_out_at"] = REASON, entry.line, stamp
            moved.append(record)
        if not moved:
            continue  # untouched: same bytes, same signature, nothing downstream rebuilds
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / shard.name
        ids = {r["id"] for r in moved}  # a re-run of curate re-kept them: one record per file
        previous = [r for r in read_records(target) if r["id"] not in ids] if target.is_file() else []
        _write(target, previous + moved)
        _write(shard, keep)
        changed.append(shard.name)
        moved_total += len(moved)
    if moved_total and update_stats:
        _update_stats(run)
    return {"moved": moved_total, "changed_shards": changed}


def _write(path: Path, records: list[dict]) -> None:
    """Records as curate writes them (gzip without a timestamp when the name ends in .gz), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8", "surrogatepass")
    if path.name.endswith(".gz"):
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


def with_opt_out_step(stats: dict, run: Path) -> dict:
    """`stats` (stats.json's summary) with its `opted_out` step and totals recomputed from
    removed/opted_out/ (so it is right however often opt-out or curate ran)."""
    totals = stats["totals"]
    old = next((s for s in stats["steps"] if s["step"] == REASON), None)
    if old is not None:  # undo the previous count
        stats["steps"].remove(old)
        n = old["removed"].get(REASON, 0)
        totals["kept"] += n
        totals["removed"] -= n
        totals["bytes_kept"] += old["bytes_removed"]
        totals["removed_by_reason"].pop(REASON, None)
    records = [r for p in record_files(run / "removed" / REASON) for r in read_records(p)] \
        if (run / "removed" / REASON).is_dir() else []
    if not records:
        return stats
    step = {"step": REASON, "docs_in": totals["kept"], "kept": totals["kept"] - len(records),
            "removed": {REASON: len(records)}, "bytes_in": totals["bytes_kept"], "bytes_removed": 0,
            "tokens_in": totals.get("tokens_kept", 0), "tokens_removed": 0, "by_language": {}}
    for record in records:
        meta = record["metadata"]
        size = int(meta.get("size", 0))
        step["bytes_removed"] += size
        row = step["by_language"].setdefault(meta.get("lang", "unknown"), {
            "docs_in": 0, "bytes_in": 0, "tokens_in": 0, "removed": 0, "bytes_removed": 0, "tokens_removed": 0})
        row["removed"] += 1
        row["bytes_removed"] += size
    stats["steps"].append(step)
    totals["kept"] -= len(records)
    totals["removed"] += len(records)
    totals["bytes_kept"] -= step["bytes_removed"]
    totals["removed_by_reason"][REASON] = len(records)
    return stats


def _update_stats(run: Path) -> None:
    path = run / "stats.json"
    if not path.is_file():
        return
    stats = with_opt_out_step(json.loads(path.read_text(encoding="utf-8")), run)
    from data_pipeline.funnel import write_funnel
    from data_pipeline.stats import write_stats

    write_stats(run, stats, "data opt-out")

    write_funnel(stats, run)


def check(run: Path, index: Path | None = None, shards: Path | None = None) -> dict:
    """Confirm no opted-out file remains downstream; raises DataError naming the first that does."""
    entries = saved_entries(run)
    opted = {r["id"] for p in record_files(run / "removed" / REASON) for r in read_records(p)} \
        if (run / "removed" / REASON).is_dir() else set()
    result = {"opted_out_files": len(opted), "kept": "clean"}
    for shard in record_files(run / "kept"):
        for record in read_records(shard):
            if record["id"] in opted or any(e.matches(record) for e in entries):
                raise DataError(f"{shard}: opted-out file {record['id']} is still kept; run `starforge data opt-out` again")
    if index is not None:
        docs = sorted(Path(index).glob("shards/*/docs.jsonl"))
        if not docs:
            raise DataError(f"{index}: no shards/*/docs.jsonl; pass an index made by `starforge attribution index`")
        for path in docs:
            for line in path.read_text(encoding="utf-8").splitlines():
                doc = json.loads(line)
                if doc.get("id") in opted or any(e.matches({"id": doc.get("id"), "metadata": doc}) for e in entries):
                    raise DataError(f"{path}: opted-out file {doc.get('id')} is still in the attribution index; "
                                    f"rerun `starforge attribution index` on {run} (it rebuilds the changed shards)")
        result["index"] = f"clean ({len(docs)} shards)"
    if shards is not None:
        result["shards"] = _check_shards(run, Path(shards))
    return result


def _shard_inputs(run: Path, shard_dir: Path) -> list[tuple[Path, list[Path]]]:
    """(shard prefix, the kept files it was made from): tokenize runs one datatrove task per shard,
    and datatrove's reader gives task r of n the sorted kept files r, r+n, ... (`DataFolder.get_shard`)."""
    prefixes = shard_prefixes(shard_dir)
    kept = sorted((run / "kept").glob("*.jsonl.gz"))
    world = len(prefixes)
    out = []
    for prefix in prefixes:
        try:
            rank = int(prefix.name.split("_", 1)[0])
        except ValueError:
            raise DataError(f"{prefix}: not a tokenize shard name (RANK_tokens)") from None
        out.append((prefix, kept[rank::world]))
    return out


def invalidate_shards(run: Path, shard_dir: Path, changed: list[str]) -> list[str]:
    """Drop the completion markers of the tokenize tasks whose kept inputs changed, so a re-run of
    `starforge data tokenize` (same config, same SHARD_DIR) rebuilds those shards and only those."""
    redo = []
    for prefix, inputs in _shard_inputs(run, shard_dir):
        if any(p.name in changed for p in inputs):
            rank = int(prefix.name.split("_", 1)[0])
            for marker in shard_dir.glob(f"logs/**/completions/{rank:05d}"):
                marker.unlink()
            redo.append(prefix.name)
    return redo


def _check_shards(run: Path, shard_dir: Path) -> str:
    """Token shards hold no document ids, so the check is per shard by time and count: it is newer
    than each kept file it was made from, and holds as many documents as they do now."""
    pairs = _shard_inputs(run, shard_dir)
    docs = 0
    for prefix, inputs in pairs:
        built = Path(f"{prefix}.bin").stat().st_mtime
        if any(p.stat().st_mtime > built for p in inputs):
            raise DataError(f"{shard_dir}: shard {prefix.name} predates a rewrite of its kept files and may hold "
                            f"opted-out files; rerun `starforge data tokenize` with --input {run / 'kept'}")
        n_kept = sum(1 for p in inputs for _ in read_records(p))
        n_shard = len(open_shard(prefix))  # one sequence per kept document
        if n_kept != n_shard:
            raise DataError(f"{shard_dir}: shard {prefix.name} holds {n_shard} documents, its kept files {n_kept}; "
                            "rerun `starforge data tokenize`")
        docs += n_shard
    return f"clean ({len(pairs)} shards, {docs} documents)"
