"""`starforge attribution check-generations GENERATIONS --index DIR --output OUT`: every sample of
a harness-format generations file (`starforge eval --save_generations`) checked against an
attribution index, the verbatim overlaps written out.

    OUT/hits.json       one entry per sample with an exact match: problem, sample, membership,
                        its three longest spans (training file, lines, licence, length)
    OUT/summary.json    generations checked, with hits, skipped (empty), the index

A generated sample is the harness's text (prompt + completion), so a span shared with the
prompt counts like any other; `min_len` is the index's (`exact.min_len`, fixed when it was
built). Empty samples are counted as skipped, not checked (the Attributor refuses an empty
snippet); a sample over the index's `exact.max_snippet_bytes` is a one-line error naming it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starforge.errors import AttributionError, ConfigError
from starforge.formats.generations import read_generations
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)

SPANS_KEPT = 3
"""Longest spans kept per sample in hits.json (the full list is one `attribution check` away)."""


@dataclass
class CheckGenerationsConfig:
    generations: Path | None = None
    """A generations file in the harness format (a JSON list of lists of strings, one per problem)."""
    index: Path | None = None
    """An index folder written by `starforge attribution index`."""
    output: Path | None = None
    """Folder to write hits.json and summary.json into (not the generations file's own folder:
    an output never contains an input)."""

    def __post_init__(self) -> None:
        for name in ("generations", "index", "output"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))


def check_generations(cfg: CheckGenerationsConfig) -> dict[str, Any]:
    """Check every sample; writes OUT/hits.json and OUT/summary.json and returns the summary."""
    if cfg.generations is None or cfg.index is None or cfg.output is None:
        raise ConfigError("check-generations needs a generations file, --index DIR and --output DIR "
                          "(starforge attribution check-generations GENERATIONS --index DIR --output DIR)")
    from attribution.attributor import Attributor

    generations = read_generations(cfg.generations)
    out = cfg.output
    hits, checked, skipped = [], 0, 0
    with Attributor(cfg.index) as attributor:
        for problem, samples in enumerate(generations):
            for sample, text in enumerate(samples):
                if not text.strip():
                    skipped += 1
                    continue
                try:
                    result = attributor.check(text)
                except AttributionError as exc:
                    raise AttributionError(f"{cfg.generations}: problem {problem} sample {sample}: {exc}") from None
                checked += 1
                if result["exact"]:
                    hits.append({"problem": problem, "sample": sample, "membership": result["membership"],
                                 "exact": sorted(result["exact"], key=lambda m: -m["length"])[:SPANS_KEPT]})
    out.mkdir(parents=True, exist_ok=True)
    hits_path = out / "hits.json"
    hits_path.write_text(json.dumps(hits, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    longest = max((h["exact"][0]["length"] for h in hits), default=0)
    summary = write_summary(out, "attribution", {
        "generations_checked": checked, "generations_with_hits": len(hits), "generations_skipped_empty": skipped,
        "longest_match_bytes": longest, "index": str(cfg.index), "generations": str(cfg.generations),
        "top_hits": sorted(hits, key=lambda h: -h["exact"][0]["length"])[:15],
    }, {"hits": hits_path}, command="attribution check-generations")
    log.info("check-generations: %d samples checked (%d empty skipped), %d overlap a training file verbatim "
             "(longest %d bytes); %s", checked, skipped, len(hits), longest, hits_path)
    return summary


def run(cfg: CheckGenerationsConfig) -> int:
    summary = check_generations(cfg)
    print(f"{summary['generations_checked']} generations checked against {cfg.index}: "
          f"{summary['generations_with_hits']} overlap a training file verbatim; {summary['outputs']['hits']}")
    return 0
