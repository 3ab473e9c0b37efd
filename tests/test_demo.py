"""The spine end to end: `starforge demo` on a small real corpus, every stage once."""

import json
import shutil
import sysconfig
from pathlib import Path

import pytest

from starforge.config import load_config
from starforge.demo import DemoConfig, run_demo

STDLIB = Path(sysconfig.get_paths()["stdlib"])
LICENCE = STDLIB / "LICENSE.txt"


def make_corpus(root: Path) -> Path:
    """Three stdlib packages as three repositories, each with the PSF licence file."""
    for name in ("json", "email", "http"):
        shutil.copytree(STDLIB / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(LICENCE, root / name / "LICENSE")
    return root


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_the_report(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    out = tmp_path / "demo"
    cfg = load_config(DemoConfig, None, [
        f"output={out}", f"corpus={corpus}", "vocab_size=1024",
        "pretrain_overrides=[train_steps=40, eval_interval=20, save_interval=20, log_interval=5]",
        "limit=8", "eval_overrides=[n_samples=2, max_length_generation=160]",
    ])
    summaries = run_demo(cfg)

    stats = json.loads((out / "data" / "stats.json").read_text())
    assert stats["totals"]["kept"] >= 30
    assert stats["totals"]["files"] == stats["totals"]["kept"] + stats["totals"]["removed"]
    assert list((out / "shards").glob("*.idx"))

    assert summaries["pretrain"]["final_loss"] < summaries["pretrain"]["first_loss"]
    assert summaries["hf"]["max_abs_diff"] < 1e-4
    assert json.loads((out / "hf" / "config.json").read_text())["multi_query"] is True

    generations = json.loads((out / "eval" / "generations_humaneval.json").read_text())
    assert len(generations) == 8 and all(len(g) == 2 for g in generations)
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert 0.0 <= metrics["humaneval"]["pass@1"] <= 1.0
    assert summaries["eval"]["canonical_pass"] == 1.0 and summaries["eval"]["canonical_problems"] == 8

    assert summaries["attribution"]["generations_checked"] == 16
    report = (out / "report.md").read_text()
    for needle in ("funnel.png", "loss.png", "pass@1", "canonical solutions: 8/8", "Attribution"):
        assert needle in report
    assert (out / "loss.png").stat().st_size > 5000 and (out / "funnel.png").stat().st_size > 5000

    # A second run resumes: every step is already done, nothing is recomputed.
    again = run_demo(cfg)
    assert again["pretrain"]["final_loss"] == summaries["pretrain"]["final_loss"]
