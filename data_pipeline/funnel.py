"""The funnel report: documents and bytes entering and leaving each step, overall and per
language, as DIR/funnel.json and a picture, DIR/funnel.png.

Built from stats.json's steps (themselves from datatrove's per-task stats), so it is as exact as
the counts. Tokens are not counted at curate time (the tokenizer is trained on curate's
output); `starforge data tokenize` reports tokens of the kept documents in its summary.json.
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
                     "removed": step["removed"],
                     "by_language": {lang: {"docs_in": v["docs_in"], "docs_out": v["docs_in"] - v["removed"],
                                            "bytes_in": v["bytes_in"], "bytes_out": v["bytes_in"] - v["bytes_removed"]}
                                     for lang, v in step.get("by_language", {}).items()}})
    return {"input": {"docs": stats["totals"]["files"], "bytes": stats["totals"]["bytes_in"]},
            "steps": rows, "kept": {"docs": stats["totals"]["kept"], "bytes": stats["totals"]["bytes_kept"]}}


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
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.35 * len(steps) + 1.5), sharey=True)
    for ax, values, title in ((axes[0], docs, "documents left"), (axes[1], mb, "MB left")):
        ax.barh(range(len(steps)), values, color="#4c72b0")
        ax.set_title(title)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.0f}" if title.startswith("doc") else f" {v:,.1f}", va="center", fontsize=8)
        ax.set_xlim(0, max(values) * 1.25 if max(values) else 1)
    axes[0].set_yticks(range(len(steps)), steps)
    axes[0].invert_yaxis()
    fig.suptitle("starforge data curate: funnel")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
