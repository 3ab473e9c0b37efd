"""One shard of an attribution index: built into a hidden folder, renamed into place, marked done.

`build_shard_if_due` is what a datatrove task runs (attribution.parallel) and `is_built` what
`build_index` asks (attribution.index); both meet here, so neither of those modules imports the
other's internals. The marker `shard.json` is written last, inside the folder that is renamed
into place, and holds the input's signature: a shard whose marker matches is complete.
"""

from __future__ import annotations

import json
import logging
import mmap
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from attribution.bloom import BloomWriter, count_ngrams
from attribution.config import AttributionConfig
from attribution.corpus import Shard
from attribution.exact import EXACT_FILES, ExactWriter
from attribution.route import FILE_NAME as ROUTE_FILE
from attribution.route import PARAMS_NAME as ROUTE_PARAMS
from attribution.route import write_route
from attribution.search import SearchWriter
from attribution.tables import BOUNDS_FILE
from starforge.log import progress

log = logging.getLogger(__name__)

MARKER = "shard.json"


def is_built(shard: Shard, shards_dir: Path) -> bool:
    marker = shards_dir / shard.name / MARKER
    return marker.is_file() and json.loads(marker.read_text())["signature"] == shard.signature()


def build_shard_if_due(shard: Shard, shards_dir: Path, cfg: AttributionConfig) -> bool:
    """Build one shard unless its marker matches its input; True when built. Run by datatrove tasks."""
    signature = shard.signature()
    marker = shards_dir / shard.name / MARKER
    if marker.is_file() and json.loads(marker.read_text())["signature"] == signature:
        return False
    _build(shard, signature, shards_dir, cfg)
    return True


def _build(shard: Shard, signature: dict, shards_dir: Path, cfg: AttributionConfig) -> None:
    final = shards_dir / shard.name
    tmp = shards_dir / f".{shard.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    exact = ExactWriter(tmp, cfg.exact)
    search = SearchWriter(tmp, cfg.search)
    num_docs = text_bytes = expected_ngrams = 0
    total = signature.get("files") if shard.kind == "folder" else None
    with (tmp / "docs.jsonl").open("w", encoding="utf-8") as docs:
        for f in progress(shard.files(), desc=f"index {shard.name}", total=total, unit="file"):
            data = f.text.encode("utf-8")
            exact.add(data)
            search.add(f.text)
            docs.write(json.dumps(f.metadata(), ensure_ascii=False) + "\n")
            num_docs += 1
            text_bytes += len(data)
            expected_ngrams += count_ngrams(len(f.text), cfg.bloom)
    times = {"read_s": time.perf_counter() - t0}
    if num_docs == 0:
        exact.close()
        search.finish()
        info: dict[str, Any] = {"lines": 0, "ngrams": 0}
        times["suffix_array_s"] = times["anchors_s"] = times["bloom_s"] = times["route_s"] = 0.0
    else:
        t1 = time.perf_counter()
        info = {**search.finish()}
        times["search_s"] = time.perf_counter() - t1
        info.update(exact.finish())
        times["suffix_array_s"] = info.pop("suffix_array_s")
        times["anchors_s"] = info.pop("anchors_s")
        t2 = time.perf_counter()
        bloom = BloomWriter(tmp, expected_ngrams, cfg.bloom)
        offsets = np.fromfile(tmp / "offset.0", dtype=np.uint64)
        with (tmp / "tokenized.0").open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as blob:
            ends = offsets[1:].tolist() + [len(blob)]
            for start, end in zip(offsets.tolist(), ends):
                bloom.add(blob[start + 1:end].decode("utf-8"))
            info.update(bloom.finish())
            times["bloom_s"] = time.perf_counter() - t2
            t3 = time.perf_counter()
            info.update(write_route(tmp, exact.anchor_keys, cfg.exact.min_len, cfg.exact.route_fpr))
            times["route_s"] = time.perf_counter() - t3
    record = {"name": shard.name, "kind": shard.kind, "signature": signature, "docs": num_docs,
              "text_bytes": text_bytes, **info, "bytes": _sizes(tmp),
              "build_s": round(time.perf_counter() - t0, 3), "times": {k: round(v, 3) for k, v in times.items()},
              "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (tmp / MARKER).write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    log.info("shard %s: %d files, %.1f MB, built in %.1f s", shard.name, num_docs, text_bytes / 1e6, record["build_s"])


def _sizes(shard_dir: Path) -> dict[str, int]:
    """Bytes on disk per structure."""
    groups = {"exact": (*EXACT_FILES, BOUNDS_FILE),
              "metadata": ("docs.jsonl",), "bloom": ("bloom.bin",),
              "route": (ROUTE_FILE, ROUTE_PARAMS)}
    sizes = {k: sum((shard_dir / n).stat().st_size for n in names if (shard_dir / n).is_file())
             for k, names in groups.items()}
    search_dir = shard_dir / "search"
    sizes["search"] = sum(p.stat().st_size for p in search_dir.rglob("*") if p.is_file()) if search_dir.is_dir() else 0
    return sizes
