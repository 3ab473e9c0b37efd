"""The funnel report: documents and bytes entering and leaving each step, overall and per
language, as DIR/funnel.json and a picture, DIR/funnel.png.

Built from stats.json's steps (themselves from datatrove's per-task stats), so it is as exact as
the counts. Tokens are `metadata.tokens` (data_pipeline/token_count.py: code units by default,
or a given tokenizer's); `starforge data tokenize` reports the trained tokenizer's count of the
kept documents in its summary.json.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from starforge.plots import plot_funnel

log = logging.getLogger(__name__)


def funnel(stats: dict) -> dict:
    rows = []
    for step in stats["steps"]:
        rows.append({"step": step["step"], "docs_in": step["docs_in"], "docs_out": step["kept"],
                     "bytes_in": step["bytes_in"], "bytes_out": step["bytes_in"] - step["bytes_removed"],
                     "tokens_in": step.get("tokens_in", 0),
                     "tokens_out": step.get("tokens_in", 0) - step.get("tokens_removed", 0),
                     "removed": step["removed"],
                     "by_language": {lang: {"docs_in": v["docs_in"], "docs_out": v["docs_in"] - v["removed"],
                                            "bytes_in": v["bytes_in"], "bytes_out": v["bytes_in"] - v["bytes_removed"],
                                            "tokens_in": v.get("tokens_in", 0),
                                            "tokens_out": v.get("tokens_in", 0) - v.get("tokens_removed", 0)}
                                     for lang, v in step.get("by_language", {}).items()}})
    return {"input": {"docs": stats["totals"]["files"], "bytes": stats["totals"]["bytes_in"]},
            "steps": rows, "kept": {"docs": stats["totals"]["kept"], "bytes": stats["totals"]["bytes_kept"],
                                    "tokens": stats["totals"].get("tokens_kept", 0)}}


def write_funnel(stats: dict, out: Path) -> dict:
    report = funnel(stats)
    (out / "funnel.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_funnel(report, out / "funnel.png")  # starforge/plots.py
    return report
