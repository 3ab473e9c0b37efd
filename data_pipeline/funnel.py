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
    try:
        plot_funnel(report, out / "funnel.png")
    except ImportError:  # pragma: no cover - matplotlib is a dependency, but the JSON is what matters
        log.warning("matplotlib not installed: funnel.png not written")
    return report


def plot_funnel(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = ["input"] + [r["step"] for r in report["steps"]]
    docs = [report["input"]["docs"]] + [r["docs_out"] for r in report["steps"]]
    mb = [report["input"]["bytes"] / 1e6] + [r["bytes_out"] / 1e6 for r in report["steps"]]
    # tokens exist once files are decoded: no bar before the first step that saw counted texts
    first = next((i for i, r in enumerate(report["steps"]) if r.get("tokens_in")), len(report["steps"]))
    tokens = [None] + [None if i < first else r.get("tokens_out", 0) / 1e6 for i, r in enumerate(report["steps"])]
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.35 * len(steps) + 1.5), sharey=True)
    for ax, values, title, fmt in ((axes[0], docs, "documents left", ",.0f"), (axes[1], mb, "MB left", ",.1f"),
                                   (axes[2], tokens, "M tokens left (counted once decoded)", ",.2f")):
        ax.barh(range(len(steps)), [v or 0 for v in values], color="#4c72b0")
        ax.set_title(title)
        for i, v in enumerate(values):
            ax.text(v or 0, i, " -" if v is None else f" {v:{fmt}}", va="center", fontsize=8)
        top = max(v or 0 for v in values)
        ax.set_xlim(0, top * 1.25 if top else 1)
    axes[0].set_yticks(range(len(steps)), steps)
    axes[0].invert_yaxis()
    fig.suptitle("starforge data curate: funnel")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
