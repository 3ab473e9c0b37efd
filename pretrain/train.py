"""`train(cfg)`: pretrain a StarCoder-family model on megatron-core, in-process or under torchrun.

Shape as torchtitan's `train.py`: parallel state, model, data, optimizer, checkpoint and
metrics live in their own modules; this file wires them and runs the loop.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Any

import torch

from pretrain import checkpoint, hf, hf_import, parallel, seqvcr
from pretrain.config import TrainConfig, resolve
from pretrain.data import PretrainDataset
from pretrain.metrics import MetricsWriter, plot_loss
from pretrain.model import build_model
from pretrain.optim import build_optimizer, clip_gradients, lr_at
from pretrain.step import evaluate, train_step
from starforge.config import to_dict
from starforge.errors import PretrainError
from starforge.formats.tokenizer import FIM_PAD, load_tokenizer
from starforge.log import progress

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train `cfg.train_steps` steps; returns a summary (losses, tokens/s, output paths)."""
    if cfg.init_from is not None and not resume:
        if hf.is_hf_dir(cfg.init_from):  # a public checkpoint: its shape (and tokenizer) set the model
            cfg = hf_import.resolve_init_from(cfg)
        else:
            checkpoint.resolve(cfg.init_from)  # a wrong path fails before anything is built
    tokenizer = load_tokenizer(cfg.tokenizer) if cfg.tokenizer is not None else None
    cfg = resolve(cfg, tokenizer.get_vocab_size() if tokenizer else None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # megatron initialises weights on the CPU from this generator
    on_gpu, dp = parallel.init_parallel(cfg.model, cfg.parallel, cfg.seed)
    try:
        return _run(cfg, tokenizer, on_gpu, dp, resume)
    finally:
        parallel.shutdown()


def _run(cfg: TrainConfig, tokenizer: Any, on_gpu: bool, dp: int, resume: bool) -> dict[str, Any]:
    from megatron.core import parallel_state

    rank0 = torch.distributed.get_rank() == 0
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and on_gpu)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext())
    model = build_model(cfg.model, cfg.parallel.tensor_parallel, cfg.parallel.pipeline_parallel,
                        cfg.parallel.sequence_parallel, recompute=cfg.recompute, on_gpu=on_gpu,
                        attention=cfg.attention).to(device)
    capture = (seqvcr.attach(model, cfg.seqvcr, cfg.model.num_layers, cfg.model.hidden_size,
                             cfg.parallel.sequence_parallel) if cfg.seqvcr is not None else None)
    optimizer = build_optimizer(model, cfg.optim)
    global_batch = cfg.micro_batch_size * cfg.grad_accum * dp
    seq = cfg.model.seq_length
    pad_id = tokenizer.token_to_id(FIM_PAD) if (tokenizer is not None and cfg.fim is not None) else None
    train_data = PretrainDataset(cfg.data, seq, "train", cfg.fim, tokenizer, cfg.train_steps * global_batch)
    valid_data = (PretrainDataset(cfg.data, seq, "valid", cfg.fim, tokenizer, cfg.eval_samples)
                  if cfg.eval_interval and cfg.data.valid_fraction > 0 else None)
    run_config = to_dict(cfg)
    if cfg.tokenizer is not None:
        run_config["tokenizer"] = str(Path(cfg.tokenizer).resolve())

    start = 0
    wandb_run_id = None
    if resume:
        last = checkpoint.latest_step(cfg.checkpoint_dir)
        if last is None:
            raise PretrainError(f"--resume: no checkpoint in {cfg.checkpoint_dir} (no 'latest' file); "
                                "start without --resume")
        meta = checkpoint.load(checkpoint.iter_dir(cfg.checkpoint_dir, last), model, optimizer)
        if meta.get("global_batch") != global_batch:
            raise PretrainError(f"--resume: checkpoint global batch {meta.get('global_batch')} != this run's "
                                f"{global_batch}; keep micro_batch_size x grad_accum x data-parallel the same")
        start = int(meta["step"])
        wandb_run_id = meta.get("wandb_run_id")  # the W&B run this checkpoint belongs to, if any
        log.info("resumed from step %d (%d samples consumed)", start, meta["consumed_samples"])
    elif cfg.init_from is not None and hf.is_hf_dir(cfg.init_from):
        hf_import.load_into(model, cfg.init_from, cfg.model, cfg.parallel.tensor_parallel)
        log.info("initialised from Hugging Face %s: converted on the fly, fresh optimizer and schedule", cfg.init_from)
    elif cfg.init_from is not None:
        source = checkpoint.resolve(cfg.init_from)
        meta = checkpoint.load_weights(source, model)
        log.info("initialised from %s (its step %s): weights only, fresh optimizer and schedule", source,
                 meta.get("step"))
    metrics = MetricsWriter(cfg.out_dir, start, cfg.tensorboard, enabled=rank0, wandb=cfg.wandb,
                            run_config=run_config, wandb_run_id=wandb_run_id)
    if rank0:
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        (cfg.out_dir / "config.yaml").write_text(yaml.safe_dump(run_config, sort_keys=False), encoding="utf-8")
    log.info("model: %s parameters, %d layers, hidden %d, %d heads, %d kv groups, seq %d; global batch %d",
             f"{cfg.model.parameters():,}", cfg.model.num_layers, cfg.model.hidden_size,
             cfg.model.num_attention_heads, cfg.model.num_query_groups, seq, global_batch)

    stop = {"sigterm": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(sigterm=True))
    dp_rank = parallel_state.get_data_parallel_rank()
    flops_per_step = cfg.model.flops_per_token(seq) * global_batch * seq
    world = torch.distributed.get_world_size()
    first_loss = last_loss = None
    window: list[float] = []
    t_window, tok_rate = time.perf_counter(), 0.0
    t_start = time.perf_counter()

    def save(step: int) -> Path:
        meta = {"consumed_samples": step * global_batch, "global_batch": global_batch,
                "tensor_parallel": cfg.parallel.tensor_parallel,
                "pipeline_parallel": cfg.parallel.pipeline_parallel, "data_parallel": dp}
        if metrics.wandb_run_id is not None:  # rank 0 writes meta.json and holds the W&B run
            meta["wandb_run_id"] = metrics.wandb_run_id
        return checkpoint.save(cfg.checkpoint_dir, step, model, optimizer, meta, run_config)

    step = start
    exit_code = 1  # until the final checkpoint is written (also after SIGTERM)
    try:
        for step in progress(range(start, cfg.train_steps), "pretrain", total=cfg.train_steps - start, unit="step"):
            lr = lr_at(step, cfg.optim, cfg.train_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = train_step(model, optimizer, train_data, step, cfg.micro_batch_size, cfg.grad_accum,
                              dp_rank, dp, device, pad_id, autocast, capture)
            grad_norm = clip_gradients(model, cfg.optim.clip_grad)
            optimizer.step()
            done = step + 1
            first_loss = loss if first_loss is None else first_loss
            last_loss = loss
            window.append(loss)
            if done % cfg.log_interval == 0 or done == cfg.train_steps:
                elapsed = time.perf_counter() - t_window
                tok_rate = len(window) * global_batch * seq / elapsed
                mfu = len(window) * flops_per_step / elapsed / (cfg.peak_flops * world)
                record = {"split": "train", "step": done, "loss": sum(window) / len(window), "lr": lr,
                          "grad_norm": grad_norm, "tokens_per_s": tok_rate, "mfu": mfu,
                          "consumed_samples": done * global_batch}
                if capture is not None:
                    record.update(model.seqvcr.metrics())
                metrics.write(record)
                log.info("step %d/%d loss %.4f lr %.2e grad_norm %.3f tokens/s %.0f mfu %.2e", done,
                         cfg.train_steps, record["loss"], lr, grad_norm, tok_rate, mfu)
                window, t_window = [], time.perf_counter()
            if valid_data is not None and (done % cfg.eval_interval == 0 or done == cfg.train_steps):
                vloss = evaluate(model, valid_data, cfg.eval_samples, cfg.micro_batch_size, dp_rank, dp, device,
                                 pad_id, autocast)
                metrics.write({"split": "valid", "step": done, "loss": vloss})
                log.info("step %d valid loss %.4f", done, vloss)
                t_window = time.perf_counter()  # keep eval time out of tokens/s
            if stop["sigterm"]:
                log.warning("SIGTERM: saving a checkpoint at step %d and stopping", done)
                break
            if cfg.save_interval and done % cfg.save_interval == 0 and done != cfg.train_steps:
                save(done)
        else:
            done = cfg.train_steps if cfg.train_steps > start else start
        ckpt = save(done)
        exit_code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        metrics.close(exit_code)
    total_time = time.perf_counter() - t_start
    png = plot_loss(metrics.path, cfg.out_dir / "loss.png") if rank0 else None
    summary = {"steps": done, "start_step": start, "first_loss": first_loss, "final_loss": last_loss,
               "tokens_per_s": (done - start) * global_batch * seq / total_time if done > start else 0.0,
               "train_seconds": total_time, "parameters": cfg.model.parameters(),
               "checkpoint": str(ckpt), "metrics": str(metrics.path), "loss_png": str(png) if png else None,
               "stopped_by_sigterm": stop["sigterm"], "wandb_run_id": metrics.wandb_run_id}
    if rank0:
        from starforge.run_dir import write_summary

        write_summary(cfg.out_dir, "pretrain", summary, {"checkpoint": str(ckpt), "metrics": str(metrics.path)},
                      command="pretrain train")
    log.info("pretrain: %d steps, loss %s -> %s, %.0f tokens/s, checkpoint %s", done - start,
             f"{first_loss:.4f}" if first_loss is not None else "-",
             f"{last_loss:.4f}" if last_loss is not None else "-", summary["tokens_per_s"], ckpt)
    return summary
