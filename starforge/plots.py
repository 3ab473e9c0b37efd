"""Every picture starforge draws, in one place: loss curves (pretrain, SFT, the demo report),
the curation funnel, pass@k, and the RL run's reward and curriculum curves.

Each function takes plain data (points, a funnel report, metrics), never a stage's files, and
writes one PNG with matplotlib's Agg backend (no display needed), imported only when a picture
is drawn so importing this module costs nothing. The stages read their own files and call
these; the demo's report only links the pictures the stages wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Points = Sequence[tuple[float, float]]

BLUE = "#4c72b0"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _pyplot().close(fig)
    return path


# --- loss curves -------------------------------------------------------------------------------

def loss_points(records: Iterable[Mapping[str, Any]], key: str = "loss", split: str | None = None) -> list[tuple]:
    """(step, value) of every record carrying `key` (and, given `split`, whose `split` is it;
    records without one count as train, as pretrain's metrics.jsonl writes them)."""
    return [(r["step"], r[key]) for r in records
            if key in r and "step" in r and (split is None or r.get("split", "train") == split)]


def draw_curves(ax, series: Mapping[str, Points], markers: Iterable[str] = ("valid",)) -> None:
    """One line per named series on `ax`; series named in `markers` get dots (few points)."""
    dotted = set(markers)
    for label, points in series.items():
        if points:
            ax.plot(*zip(*points), "o-" if label in dotted else "-", label=label, markersize=3)
    if ax.lines:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def plot_loss(series: Mapping[str, Points], path: Path, title: str = "loss", xlabel: str = "step",
              ylabel: str = "loss (nats/token)", size: tuple[float, float] = (7, 4)) -> Path:
    """Loss against step, one line per series (`{"train": [...], "valid": [...]}`)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size)
    draw_curves(ax, series)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _save(fig, path)


def plot_metrics_loss(records: Sequence[Mapping[str, Any]], path: Path, title: str = "pretraining loss") -> Path:
    """pretrain's metrics.jsonl records (`split`: train/valid) as a loss picture."""
    return plot_loss({"train": loss_points(records, split="train"), "valid": loss_points(records, split="valid")},
                     path, title=title)


def plot_history_loss(history: Sequence[Mapping[str, Any]], path: Path, title: str = "SFT loss") -> Path:
    """A Hugging Face Trainer's log history (`loss`, `eval_loss` per step) as a loss picture."""
    return plot_loss({"loss": loss_points(history, "loss"), "eval_loss": loss_points(history, "eval_loss")},
                     path, title=title, size=(5, 3))


# --- the curation funnel -------------------------------------------------------------------------

def plot_funnel(report: Mapping[str, Any], path: Path) -> Path:
    """Documents, MB and tokens left after each curation step (a `funnel.json` report), the
    documents panel annotated with each step's removals by reason."""
    plt = _pyplot()
    steps = ["input"] + [r["step"] for r in report["steps"]]
    docs = [report["input"]["docs"]] + [r["docs_out"] for r in report["steps"]]
    mb = [report["input"]["bytes"] / 1e6] + [r["bytes_out"] / 1e6 for r in report["steps"]]
    # tokens exist once files are decoded: no bar before the first step that saw counted texts
    first = next((i for i, r in enumerate(report["steps"]) if r.get("tokens_in")), len(report["steps"]))
    tokens = [None] + [None if i < first else r.get("tokens_out", 0) / 1e6 for i, r in enumerate(report["steps"])]
    why = [""] + ["  " + ", ".join(f"-{n} {reason}" for reason, n in sorted(r["removed"].items(), key=lambda x: -x[1])
                                   if n) for r in report["steps"]]
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.35 * len(steps) + 1.5), sharey=True)
    panels = ((axes[0], docs, "documents left", ",.0f", why), (axes[1], mb, "MB left", ",.1f", None),
              (axes[2], tokens, "M tokens left (counted once decoded)", ",.2f", None))
    for ax, values, title, fmt, notes in panels:
        ax.barh(range(len(steps)), [v or 0 for v in values], color=BLUE)
        ax.set_title(title)
        for i, v in enumerate(values):
            label = " -" if v is None else f" {v:{fmt}}"
            ax.text(v or 0, i, label + (notes[i] if notes else ""), va="center", fontsize=8)
        top = max(v or 0 for v in values)
        ax.set_xlim(0, top * (1.9 if notes else 1.25) if top else 1)
    axes[0].set_yticks(range(len(steps)), steps)
    axes[0].invert_yaxis()
    fig.suptitle("starforge data curate: funnel")
    return _save(fig, path)


# --- pass@k -------------------------------------------------------------------------------------

def plot_pass_at_k(metrics: Mapping[str, Mapping[str, Any]], path: Path, title: str = "pass@k") -> Path:
    """Grouped bars: each task's pass@k values (`{"humaneval": {"pass@1": 0.1, "pass@10": ...}}`)."""
    plt = _pyplot()
    tasks = {task: {k: v for k, v in values.items() if k.startswith("pass@") and isinstance(v, (int, float))}
             for task, values in metrics.items() if isinstance(values, Mapping)}
    tasks = {t: v for t, v in tasks.items() if v}
    ks = sorted({k for v in tasks.values() for k in v}, key=lambda k: int(k.split("@")[1]))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(tasks) * max(len(ks), 1) + 1.5), 3.5))
    width = 0.8 / max(len(ks), 1)
    for j, k in enumerate(ks):
        xs = [i + j * width for i in range(len(tasks))]
        values = [tasks[t].get(k, 0.0) for t in tasks]
        bars = ax.bar(xs, values, width, label=k)
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks([i + width * (len(ks) - 1) / 2 for i in range(len(tasks))], list(tasks))
    ax.set_ylim(0, max(1e-3, max((v for t in tasks.values() for v in t.values()), default=0)) * 1.3)
    ax.set_ylabel("fraction of problems")
    ax.set_title(title)
    if ks:
        ax.legend(fontsize=8)
    return _save(fig, path)


# --- RL: reward and curriculum ------------------------------------------------------------------

def moving_average(values: Sequence[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot_rl_run(path: Path, loss: Mapping[str, Points], switch_step: float | None, rewards: Points,
                curriculum: Sequence[tuple[int, Mapping[str, Any]]], curriculum_note: str) -> Path:
    """Three panels: loss per optimizer step (SFT, then GRPO; `switch_step` marks the switch),
    RL mean reward per step with its 10-step mean, and the curriculum's Q (solid) and draw
    probability (dashed) per arm, or `curriculum_note` when there is no curriculum."""
    plt = _pyplot()
    fig, (ax_loss, ax_reward, ax_cur) = plt.subplots(1, 3, figsize=(14, 3.4))
    draw_curves(ax_loss, loss, markers=())
    if switch_step is not None:
        ax_loss.axvline(switch_step, color="grey", linestyle=":", label="SFT -> RL")
        ax_loss.legend(fontsize=7)
    ax_loss.set_title("loss")
    ax_loss.set_xlabel("optimizer step")

    if rewards:
        steps, values = zip(*rewards)
        ax_reward.plot(steps, values, alpha=0.4, label="per step")
        ax_reward.plot(steps, moving_average(list(values), 10), label="10-step mean")
        ax_reward.legend(fontsize=7)
    ax_reward.set_title("RL reward (fraction of tests passed)")
    ax_reward.set_xlabel("RL step")

    arms = sorted({a for _, s in curriculum for a in s["q"]})
    for i, arm in enumerate(arms):
        color = f"C{i}"
        ax_cur.plot([st for st, _ in curriculum], [s["q"][arm] for _, s in curriculum], color=color, label=f"Q {arm}")
        ax_cur.plot([st for st, _ in curriculum], [s["probabilities"][arm] for _, s in curriculum], color=color,
                    linestyle="--", label=f"p {arm}")
    if curriculum:
        mode = "self-evolving" if curriculum[-1][1].get("update", True) else "random (no update)"
        ax_cur.set_title(f"curriculum: {mode}")
        ax_cur.legend(fontsize=6, ncol=2)
    else:
        ax_cur.set_title(curriculum_note)
    ax_cur.set_xlabel("RL step")
    return _save(fig, path)
