"""`build_index(cfg)`: one attribution index per data shard, under one INDEX_DIR.

    INDEX_DIR/
      config.yaml             resolved config; queries read ngram/stride/min_len from it
      manifest.json           shards, counts, bytes per structure, build times
      shards/NAME/            one per kept file (or one for a plain folder), complete when
        shard.json            ... this marker exists (written last, after an atomic rename)
        tokenized.0 offset.0 table.0 lines.npy doc_lines.npy   exact match (attribution.exact)
        prefix_bounds.npy     first rank of each two-byte prefix (attribution.tables)
        docs.jsonl            id, repo, path, licence, lang of each file, in index order
        bloom.bin             membership (attribution.bloom)
        route.bin route.json  anchor filter: may the shard hold a snippet's span? (attribution.route)
        search/               BM25 (attribution.search)
      logs/build/             datatrove's task logs and stats of the last local build
      slurm/                  launch_script.slurm, executor.pik (build.executor=slurm)

A shard whose marker matches its input's signature is skipped, so re-running on a complete
index is a no-op and adding a kept file builds only that shard; an interrupted shard is
rebuilt from scratch (attribution.shard builds one). The shards still to build run as datatrove
tasks (attribution.parallel):
`LocalPipelineExecutor` with `build.workers` processes, or a Slurm job array
(`build.executor=slurm`, `build.dry_run=true` to write the job without submitting it). The
manifest is written here once every shard is built.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from attribution.config import AttributionConfig
from attribution.corpus import find_shards
from attribution.parallel import SLURM_DIR, run_local, submit_slurm, write_slurm_job
from attribution.shard import MARKER, is_built
from starforge.config import save_config, to_dict
from starforge.errors import AttributionError
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)

FORMAT = "starforge-attribution/1"
# Changing these changes what a shard stores; queries of an index must use the values it was built with.
BUILD_KEYS = ("source.extensions", "source.exclude_dirs", "source.max_file_bytes",
              "bloom.ngram", "bloom.stride", "bloom.min_distinct_chars")


def build_index(cfg: AttributionConfig) -> dict[str, Any]:
    if cfg.input is None or cfg.output is None:
        raise AttributionError("attribution index needs --input PATH and --output INDEX_DIR")
    out = Path(cfg.output)
    shards = find_shards(Path(cfg.input), cfg.source)
    _check_same_build(out, cfg)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    for stale in (out / "shards").glob(".*.partial"):  # left by an interrupted build
        shutil.rmtree(stale)
    t0 = time.perf_counter()
    due = [shard for shard in shards if not is_built(shard, out / "shards")]
    skipped = [shard.name for shard in shards if shard not in due]
    built = [shard.name for shard in due]
    on_disk = _built_names(out)
    if not due and (out / "manifest.json").is_file() and \
            [s["name"] for s in read_manifest(out)["shards"]] == on_disk:
        log.info("index %s is complete: %d shards, nothing to do", out, len(skipped))
        return {**read_manifest(out), "built": [], "skipped": skipped}
    save_config(cfg, out / "config.yaml")
    if due:
        if cfg.build.executor == "slurm":
            if cfg.build.dry_run:
                job = write_slurm_job(due, out, cfg)
            else:
                submit_slurm(due, out, cfg)
                job = {"script": str(out.resolve() / SLURM_DIR / "launch_script.slurm"), "tasks": len(due)}
            return {"slurm": job, "built": [], "pending": built, "skipped": skipped}
        run_local(due, out, cfg)
    manifest = _write_manifest(out)
    if manifest["totals"]["docs"] == 0:
        raise AttributionError(f"{cfg.input}: no files to index (empty kept files, or no UTF-8 text files "
                               f"matching source.extensions={cfg.source.extensions})")
    t = manifest["totals"]
    log.info("indexed %d files (%.1f MB) in %d shards (%d built, %d up to date) in %.1f s; index %.1f MB -> %s",
             t["docs"], t["text_bytes"] / 1e6, len(manifest["shards"]), len(built), len(skipped),
             time.perf_counter() - t0, t["index_bytes"] / 1e6, out)
    return {**manifest, "built": built, "skipped": skipped, "wall_s": round(time.perf_counter() - t0, 3)}


def _check_same_build(out: Path, cfg: AttributionConfig) -> None:
    path = out / "config.yaml"
    if not path.is_file():
        return
    old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    new = to_dict(cfg)
    for key in BUILD_KEYS:
        section, name = key.split(".")
        before, now = old.get(section, {}).get(name), new[section][name]
        if before != now:
            raise AttributionError(f"{out}: built with {key}={before!r}, now {now!r}; "
                                   "use the same config to add shards, or write a new --output")


def _built_names(out: Path) -> list[str]:
    return sorted(d.name for d in (out / "shards").iterdir()
                  if d.is_dir() and not d.name.startswith(".") and (d / MARKER).is_file())


def _write_manifest(out: Path) -> dict[str, Any]:
    shards = []
    for d in sorted((out / "shards").iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / MARKER).is_file():
            shards.append(json.loads((d / MARKER).read_text()))
    totals: dict[str, Any] = {key: sum(s[key] for s in shards) for key in ("docs", "text_bytes", "lines", "ngrams")}
    by_structure = {k: sum(s["bytes"].get(k, 0) for s in shards) for k in ("exact", "metadata", "bloom", "search", "route")}
    totals["bytes"] = by_structure
    totals["index_bytes"] = sum(by_structure.values())
    totals["build_s"] = round(sum(s["build_s"] for s in shards), 3)
    manifest = {"format": FORMAT, "shards": shards, "totals": totals}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    write_summary(out, "attribution", manifest, {"index": out, "manifest": out / "manifest.json"},
                  command="attribution index")
    return manifest


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = Path(index_dir) / "manifest.json"
    if not Path(index_dir).is_dir():
        raise AttributionError(f"{index_dir}: no such index; build one with `starforge attribution index`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttributionError(f"{path}: missing; {index_dir} is not a complete index "
                               "(rerun `starforge attribution index`)") from None
    except (OSError, ValueError) as exc:
        raise AttributionError(f"{path}: corrupt manifest ({exc}); rerun `starforge attribution index`") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "shards" not in manifest:
        raise AttributionError(f"{path}: not a {FORMAT} manifest; rebuild with `starforge attribution index`")
    return manifest
