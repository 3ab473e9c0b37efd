"""`train(cfg)`: pretrain a StarCoder-family model on megatron-core, in-process or under torchrun.

Shape as torchtitan's `train.py`: parallel state, model, data, optimizer, checkpoint and
metrics live in their own modules; this file wires them and runs the loop, one function per
concern: `_build` (model, Seq-VCR hook, optimizer), `_datasets`, `_start` (resume or
init_from), `_loop` (steps, logging, validation, checkpoints, SIGTERM, the finite check of
`pretrain/health.py`) and `_finish` (plot, summary).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pretrain import checkpoint, hf, hf_import, parallel, seqvcr_hook
from pretrain.config import TrainConfig, resolve
from pretrain.data import PretrainDataset, check_data_tokenizer
from pretrain.health import check_finite
from pretrain.metrics import MetricsWriter, plot_loss
from pretrain.model import build_model
from pretrain.optim import build_optimizer, clip_gradients, lr_at
from pretrain.step import evaluate, train_step
from pretrain.tokenizer_check import KEY as TOKENIZER_KEY
from pretrain.tokenizer_check import model_tokenizer
from starforge.config import to_dict
from starforge.errors import PretrainError
from starforge.formats.tokenizer import EOD, FIM_PAD, eos_token_of, load_tokenizer, tokenizer_file
from starforge.log import progress
from starforge.run_dir import write_summary

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train `cfg.train_steps` steps; returns a summary (losses, tokens/s, output paths)."""
    if cfg.init_from is not None and not resume:
        if hf.is_hf_dir(cfg.init_from):  # a public checkpoint: its shape (and tokenizer) set the model
            cfg = hf_import.resolve_init_from(cfg)
        else:
            checkpoint.resolve(cfg.init_from)  # a wrong path fails before anything is built
    tokenizer = load_tokenizer(cfg.tokenizer) if cfg.tokenizer is not None else None
    fingerprint, where = model_tokenizer(cfg, tokenizer, resume)
    check_data_tokenizer(cfg.data, fingerprint, where)  # shards of another tokenizer: refused here
    cfg = resolve(cfg, tokenizer.get_vocab_size() if tokenizer else None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # megatron initialises weights on the CPU from this generator
    on_gpu, dp = parallel.init_parallel(cfg.model, cfg.parallel, cfg.seed)
    try:
        return _run(cfg, tokenizer, fingerprint, on_gpu, dp, resume)
    finally:
        parallel.shutdown()


@dataclass
class _Run:
    """What one run holds while it trains."""

    cfg: TrainConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    capture: Any
    device: torch.device
    autocast: contextlib.AbstractContextManager
    dp: int
    global_batch: int
    run_config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    """Written into every checkpoint's meta.json besides the step and layout."""

    def save(self, step: int, metrics: MetricsWriter) -> Path:
        meta = {"consumed_samples": step * self.global_batch, "global_batch": self.global_batch,
                "tensor_parallel": self.cfg.parallel.tensor_parallel,
                "pipeline_parallel": self.cfg.parallel.pipeline_parallel, "data_parallel": self.dp, **self.meta}
        if metrics.wandb_run_id is not None:  # rank 0 writes meta.json and holds the W&B run
            meta["wandb_run_id"] = metrics.wandb_run_id
        return checkpoint.save(self.cfg.checkpoint_dir, step, self.model, self.optimizer, meta, self.run_config)


def _run(cfg: TrainConfig, tokenizer: Any, fingerprint: dict[str, Any] | None, on_gpu: bool, dp: int,
         resume: bool) -> dict[str, Any]:
    run = _build(cfg, on_gpu, dp)
    if fingerprint is not None:
        run.meta[TOKENIZER_KEY] = fingerprint
    train_data, valid_data, pad_id = _datasets(cfg, tokenizer, run.global_batch)
    start, wandb_run_id = _start(run, resume)
    rank0 = torch.distributed.get_rank() == 0
    metrics = MetricsWriter(cfg.out_dir, start, cfg.tensorboard, enabled=rank0, wandb=cfg.wandb,
                            run_config=run.run_config, wandb_run_id=wandb_run_id)
    if rank0:
        import yaml

        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        (cfg.out_dir / "config.yaml").write_text(yaml.safe_dump(run.run_config, sort_keys=False), encoding="utf-8")
    log.info("model: %s parameters, %d layers, hidden %d, %d heads, %d kv groups, seq %d; global batch %d",
             f"{cfg.model.parameters():,}", cfg.model.num_layers, cfg.model.hidden_size,
             cfg.model.num_attention_heads, cfg.model.num_query_groups, cfg.model.seq_length, run.global_batch)
    t_start = time.perf_counter()
    result = _loop(run, metrics, train_data, valid_data, pad_id, start)
    return _finish(run, metrics, result, start, time.perf_counter() - t_start, rank0)


def _build(cfg: TrainConfig, on_gpu: bool, dp: int) -> _Run:
    """Model (with the Seq-VCR hook when configured), optimizer, device and autocast."""
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and on_gpu)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext())
    model = build_model(cfg.model, cfg.parallel.tensor_parallel, cfg.parallel.pipeline_parallel,
                        cfg.parallel.sequence_parallel, recompute=cfg.recompute, on_gpu=on_gpu,
                        attention=cfg.attention).to(device)
    capture = (seqvcr_hook.attach(model, cfg.seqvcr, cfg.model.num_layers, cfg.model.hidden_size,
                                  cfg.parallel.sequence_parallel) if cfg.seqvcr is not None else None)
    run_config = to_dict(cfg)
    if cfg.tokenizer is not None:
        run_config["tokenizer"] = str(Path(cfg.tokenizer).resolve())
    return _Run(cfg, model, build_optimizer(model, cfg.optim), capture, device, autocast, dp,
                cfg.micro_batch_size * cfg.grad_accum * dp, run_config)


def _datasets(cfg: TrainConfig, tokenizer: Any, global_batch: int):
    """(train, valid or None, FIM pad id or None); token ids are checked against the model's vocabulary."""
    pad_id = tokenizer.token_to_id(FIM_PAD) if (tokenizer is not None and cfg.fim is not None) else None
    seq, vocab = cfg.model.seq_length, cfg.model.vocab_size
    eod = eos_token_of(tokenizer_file(cfg.tokenizer).parent) if cfg.tokenizer is not None else EOD
    train_data = PretrainDataset(cfg.data, seq, "train", cfg.fim, tokenizer, cfg.train_steps * global_batch,
                                 vocab_size=vocab, eod_token=eod)
    valid_data = (PretrainDataset(cfg.data, seq, "valid", cfg.fim, tokenizer, cfg.eval_samples, vocab_size=vocab,
                                  eod_token=eod)
                  if cfg.eval_interval and cfg.data.valid_fraction > 0 else None)
    return train_data, valid_data, pad_id


def _start(run: _Run, resume: bool) -> tuple[int, str | None]:
    """(first step, W&B run id): the run's own last checkpoint (`--resume`), a checkpoint's or a
    Hugging Face directory's weights (`init_from`, fresh optimizer and schedule), or step 0."""
    cfg = run.cfg
    if resume:
        last = checkpoint.latest_step(cfg.checkpoint_dir)
        if last is None:
            raise PretrainError(f"--resume: no checkpoint in {cfg.checkpoint_dir} (no 'latest' file); "
                                "start without --resume")
        meta = checkpoint.load(checkpoint.iter_dir(cfg.checkpoint_dir, last), run.model, run.optimizer)
        if meta.get("global_batch") != run.global_batch:
            raise PretrainError(f"--resume: checkpoint global batch {meta.get('global_batch')} != this run's "
                                f"{run.global_batch}; keep micro_batch_size x grad_accum x data-parallel the same")
        log.info("resumed from step %d (%d samples consumed)", int(meta["step"]), meta["consumed_samples"])
        return int(meta["step"]), meta.get("wandb_run_id")  # the W&B run this checkpoint belongs to, if any
    if cfg.init_from is not None and hf.is_hf_dir(cfg.init_from):
        hf_import.load_into(run.model, cfg.init_from, cfg.model, cfg.parallel.tensor_parallel)
        log.info("initialised from Hugging Face %s: converted on the fly, fresh optimizer and schedule", cfg.init_from)
    elif cfg.init_from is not None:
        source = checkpoint.resolve(cfg.init_from)
        meta = checkpoint.load_weights(source, run.model)
        log.info("initialised from %s (its step %s): weights only, fresh optimizer and schedule", source,
                 meta.get("step"))
    return 0, None


@dataclass
class _Result:
    done: int
    checkpoint: Path
    first_loss: float | None
    last_loss: float | None
    sigterm: bool


def _loop(run: _Run, metrics: MetricsWriter, train_data: PretrainDataset, valid_data: PretrainDataset | None,
          pad_id: int | None, start: int) -> _Result:
    """Steps `start..train_steps`, each checked finite before its update; a checkpoint at the end,
    every `save_interval` and on SIGTERM."""
    from megatron.core import parallel_state

    cfg, model, optimizer = run.cfg, run.model, run.optimizer
    stop = {"sigterm": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(sigterm=True))
    dp_rank = parallel_state.get_data_parallel_rank()
    seq = cfg.model.seq_length
    flops_per_step = cfg.model.flops_per_token(seq) * run.global_batch * seq
    world = torch.distributed.get_world_size()
    first_loss = last_loss = None
    window: list[float] = []
    t_window = time.perf_counter()
    done = start
    exit_code = 1  # until the final checkpoint is written (also after SIGTERM)
    try:
        for step in progress(range(start, cfg.train_steps), "pretrain", total=cfg.train_steps - start, unit="step"):
            lr = lr_at(step, cfg.optim, cfg.train_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = train_step(model, optimizer, train_data, step, cfg.micro_batch_size, cfg.grad_accum,
                              dp_rank, run.dp, run.device, pad_id, run.autocast, run.capture)
            grad_norm = clip_gradients(model, cfg.optim.clip_grad)
            check_finite(step + 1, loss, grad_norm, lr)  # before the update: no NaN weights are ever saved
            optimizer.step()
            done = step + 1
            first_loss = loss if first_loss is None else first_loss
            last_loss = loss
            window.append(loss)
            if done % cfg.log_interval == 0 or done == cfg.train_steps:
                elapsed = time.perf_counter() - t_window
                tok_rate = len(window) * run.global_batch * seq / elapsed
                mfu = len(window) * flops_per_step / elapsed / (cfg.peak_flops * world)
                record = {"split": "train", "step": done, "loss": sum(window) / len(window), "lr": lr,
                          "grad_norm": grad_norm, "tokens_per_s": tok_rate, "mfu": mfu,
                          "consumed_samples": done * run.global_batch}
                if run.capture is not None:
                    record.update(model.seqvcr.metrics())
                metrics.write(record)
                log.info("step %d/%d loss %.4f lr %.2e grad_norm %.3f tokens/s %.0f mfu %.2e", done,
                         cfg.train_steps, record["loss"], lr, grad_norm, tok_rate, mfu)
                window, t_window = [], time.perf_counter()
            if valid_data is not None and (done % cfg.eval_interval == 0 or done == cfg.train_steps):
                vloss = evaluate(model, valid_data, cfg.eval_samples, cfg.micro_batch_size, dp_rank, run.dp,
                                 run.device, pad_id, run.autocast)
                metrics.write({"split": "valid", "step": done, "loss": vloss})
                log.info("step %d valid loss %.4f", done, vloss)
                t_window = time.perf_counter()  # keep eval time out of tokens/s
            if stop["sigterm"]:
                log.warning("SIGTERM: saving a checkpoint at step %d and stopping", done)
                break
            if cfg.save_interval and done % cfg.save_interval == 0 and done != cfg.train_steps:
                run.save(done, metrics)
        else:
            done = cfg.train_steps if cfg.train_steps > start else start
        ckpt = run.save(done, metrics)
        exit_code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        metrics.close(exit_code)
    return _Result(done, ckpt, first_loss, last_loss, stop["sigterm"])


def _finish(run: _Run, metrics: MetricsWriter, result: _Result, start: int, total_time: float,
            rank0: bool) -> dict[str, Any]:
    cfg, done = run.cfg, result.done
    png = plot_loss(metrics.path, cfg.out_dir / "loss.png") if rank0 else None
    tokens_per_s = (done - start) * run.global_batch * cfg.model.seq_length / total_time if done > start else 0.0
    summary = {"steps": done, "start_step": start, "first_loss": result.first_loss, "final_loss": result.last_loss,
               "tokens_per_s": tokens_per_s, "train_seconds": total_time, "parameters": cfg.model.parameters(),
               "checkpoint": str(result.checkpoint), "metrics": str(metrics.path),
               "loss_png": str(png) if png else None, "stopped_by_sigterm": result.sigterm,
               "wandb_run_id": metrics.wandb_run_id}
    if rank0:
        write_summary(cfg.out_dir, "pretrain", summary,
                      {"checkpoint": str(result.checkpoint), "metrics": str(metrics.path)}, command="pretrain train")
    first, last = result.first_loss, result.last_loss
    log.info("pretrain: %d steps, loss %s -> %s, %.0f tokens/s, checkpoint %s", done - start,
             f"{first:.4f}" if first is not None else "-", f"{last:.4f}" if last is not None else "-",
             tokens_per_s, result.checkpoint)
    return summary
