"""An output folder that datatrove may resume: it keeps the config it was made with."""

from __future__ import annotations

from pathlib import Path

import yaml

from starforge.config import save_config, to_dict
from starforge.errors import DataError

RESUME_NEUTRAL = ("workers", "batch_size", "executor", "dry_run", "slurm")
"""Keys that may change between a run and its resumption (they do not change any output)."""


def prepare_run_dir(cfg, out: Path) -> None:
    """Create `out` and write config.yaml, refusing a folder that holds a run with another config
    (datatrove would otherwise skip its completed tasks and mix the two runs' outputs)."""
    previous = out / "config.yaml"
    if previous.is_file():
        old = yaml.safe_load(previous.read_text(encoding="utf-8")) or {}
        new = to_dict(cfg)
        changed = sorted(k for k in set(old) | set(new) if k not in RESUME_NEUTRAL and old.get(k) != new.get(k))
        if changed:
            raise DataError(f"{out} holds a run with a different config ({', '.join(changed)} changed); "
                            "pass a new --output, or delete the folder to start over")
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
