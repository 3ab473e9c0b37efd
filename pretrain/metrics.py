"""Training metrics: one JSON object per line in `OUT/metrics.jsonl`, TensorBoard scalars in
`OUT/tb/`, W&B when configured, a console line per log interval, and the loss curve
`OUT/loss.png` at the end.

Records: `{"split": "train", "step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", ...}` and
`{"split": "valid", "step", "loss"}`. On resume the file is truncated to the resumed step so
it reads as one uninterrupted run. Only global rank 0 writes.

W&B (`wandb: {project: NAME}`) gets the resolved config once and every record's numbers as
`train/loss`, `valid/loss`... (TensorBoard's tags) at W&B step = our step. Its run id goes into
each checkpoint's meta.json; `--resume` reopens that run (`resume="allow"`). Steps a crashed run
logged after its last checkpoint are not rewritten on resume: W&B drops a step at or below one it
already has (with a warning); the resumed run recomputes them bit-identically anyway.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from starforge.errors import PretrainError

log = logging.getLogger(__name__)


@dataclass
class WandbConfig:
    project: str
    """W&B project; setting it (`--set wandb.project=NAME`) turns W&B logging on."""
    entity: str | None = None
    """Team or user owning the project; None: the logged-in account's default entity."""
    name: str | None = None
    """Run name shown in W&B; None: the name of out_dir."""
    mode: Literal["online", "offline", "disabled"] | None = None
    """offline: only local files (upload later with `wandb sync`); None: WANDB_MODE, else online."""


class MetricsWriter:
    def __init__(self, out_dir: Path, resume_step: int = 0, tensorboard: bool = True, enabled: bool = True,
                 wandb: WandbConfig | None = None, run_config: dict[str, Any] | None = None,
                 wandb_run_id: str | None = None):
        """`wandb_run_id`: the W&B run to continue (from the resumed checkpoint's meta.json)."""
        self.enabled = enabled
        self.path = out_dir / "metrics.jsonl"
        self.tb = None
        self.wandb = None
        self.wandb_run_id: str | None = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        kept = []
        if resume_step and self.path.is_file():
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tb"), purge_step=resume_step + 1 if resume_step else None)
            except ImportError:  # tensorboard is a declared dependency; keep training without it
                log.warning("tensorboard is not installed; no OUT/tb/ event files")
        if wandb is not None:  # only now: an unconfigured run never imports wandb
            self.wandb = _start_wandb(wandb, out_dir, run_config or {}, wandb_run_id)
            self.wandb_run_id = self.wandb.id if self.wandb is not None else None

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        split = record.get("split", "train")
        scalars = {f"{split}/{key}": value for key, value in record.items()
                   if key not in ("step", "split") and isinstance(value, (int, float))}
        if self.tb is not None:
            for tag, value in scalars.items():
                self.tb.add_scalar(tag, value, record["step"])
        if self.wandb is not None:
            self.wandb.log(scalars, step=record["step"])  # train and valid of one step share a row

    def close(self, exit_code: int = 0) -> None:
        """Flush and close; `exit_code` != 0 marks the W&B run failed."""
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
            self.tb = None
        if self.wandb is not None:
            self.wandb.finish(exit_code=exit_code)
            self.wandb = None


def _start_wandb(cfg: WandbConfig, out_dir: Path, run_config: dict[str, Any], run_id: str | None) -> Any:
    """A W&B run, or None when the package is missing (W&B is optional: training goes on)."""
    try:
        import wandb
    except ImportError:
        log.warning("wandb.project=%s but the wandb package is not installed; training without W&B "
                    "(pip install 'starforge[wandb]')", cfg.project)
        return None
    try:
        # Local files in OUT/wandb/ unless WANDB_DIR says otherwise. allow_val_change: a resume
        # may change the config (e.g. more train_steps).
        run = wandb.init(project=cfg.project, entity=cfg.entity, name=cfg.name or out_dir.name, mode=cfg.mode,
                         id=run_id, resume="allow" if run_id else None, config=run_config,
                         allow_val_change=True, dir=os.environ.get("WANDB_DIR", str(out_dir)))
    except wandb.errors.Error as exc:
        raise PretrainError(f"wandb.project={cfg.project}: W&B did not start ({type(exc).__name__}: {exc}); "
                            "run `wandb login`, set wandb.mode: offline, or remove the wandb section") from None
    log.info("W&B: %s run %s in project %s, local files in %s", "resumed" if run_id else "new", run.id,
             cfg.project, run.dir)
    return run


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_loss(metrics_path: Path, png_path: Path) -> Path:
    """Train (and validation) loss against step (`starforge/plots.py` draws it)."""
    from starforge.plots import plot_metrics_loss

    return plot_metrics_loss(read_metrics(metrics_path), png_path)
