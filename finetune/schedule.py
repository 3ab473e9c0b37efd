"""SFT then RL at one compute budget (the two-stage schedule of arXiv 2507.04103).

Compute = samples generated + tokens trained (the issue's unit). An SFT step trains
`batch_size x mean record tokens`; an RL step generates `prompts_per_step x num_generations`
samples and trains on each (prompt + `max_completion_length` tokens, an upper bound). `rl_share`
of the budget buys RL steps, the rest SFT steps; `rl_share: 0` is SFT only, `1` RL only (from the
given model). `report.png` in the output directory shows both stages: SFT loss, then GRPO's
loss, reward and curriculum (`finetune/report.py`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.report import write_report
from finetune.rl import RLConfig, load_rl_problems, rl
from finetune.sft import SFTConfig, read_sft_records, sft
from starforge.config import save_config
from starforge.errors import ConfigError
from starforge.run_dir import write_summary


@dataclass
class SftRlConfig:
    budget: int = 2_000_000
    """Total compute: samples generated plus tokens trained."""
    rl_share: float = 0.4
    """Share of the budget spent on RL after SFT (0..1)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)


def step_costs(model_dir: Path, data: Path, problems: str | Path, cfg: SftRlConfig) -> tuple[float, float]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    pairs = read_sft_records(Path(data), tok.eos_token)[:200]
    sft_tokens = sum(len(tok(p["prompt"] + p["completion"]).input_ids) for p in pairs) / len(pairs)
    probs = load_rl_problems(problems)[:200]
    prompt_tokens = sum(len(tok(p.prompt).input_ids) for p in probs) / len(probs)
    samples = cfg.rl.prompts_per_step * cfg.rl.num_generations
    return cfg.sft.batch_size * sft_tokens, samples * (1 + prompt_tokens + cfg.rl.max_completion_length)


def plan(model_dir: Path, data: Path, problems: str | Path, cfg: SftRlConfig) -> dict[str, Any]:
    if not 0.0 <= cfg.rl_share <= 1.0:
        raise ConfigError(f"rl_share must be in [0, 1], got {cfg.rl_share}")
    sft_cost, rl_cost = step_costs(model_dir, data, problems, cfg)
    sft_steps = int((1 - cfg.rl_share) * cfg.budget / sft_cost)
    rl_steps = int(cfg.rl_share * cfg.budget / rl_cost)
    return {"budget": cfg.budget, "rl_share": cfg.rl_share, "sft_steps": sft_steps, "rl_steps": rl_steps,
            "sft_step_cost": sft_cost, "rl_step_cost": rl_cost}


def sft_rl(model_dir: str | Path, data: str | Path, problems: str | Path, output_dir: str | Path,
           cfg: SftRlConfig | None = None) -> dict[str, Any]:
    cfg = cfg or SftRlConfig()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    p = plan(Path(model_dir), Path(data), problems, cfg)
    summary: dict[str, Any] = {"plan": p}
    current = Path(model_dir)
    if p["sft_steps"] > 0:
        cfg.sft.max_steps = p["sft_steps"]
        summary["sft"] = sft(current, data, out / "sft", cfg.sft)
        current = out / "sft"
    if p["rl_steps"] > 0:
        cfg.rl.max_steps = p["rl_steps"]
        cfg.rl.save_steps = max(cfg.rl.save_steps, p["rl_steps"])
        summary["rl"] = rl(current, problems, out / "rl", cfg.rl)
        current = out / "rl"
    final = out / "model"
    if final.exists():
        shutil.rmtree(final)
    shutil.copytree(current, final, ignore=shutil.ignore_patterns("trainer", "*.jsonl", "*.png", "*.yaml",
                                                                   "summary.json", "run_id"))
    summary["model"] = str(final)
    report = write_report(out / "report.png", rl_dir=out / "rl" if "rl" in summary else None,
                          sft_dir=out / "sft" if "sft" in summary else None)
    if report:
        summary["report"] = str(report)
    write_summary(out, "finetune", summary, {"model": str(final)}, command="finetune sft-rl")
    return summary
