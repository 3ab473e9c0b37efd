"""Pretraining throughput: our megatron-core trainer against a plain PyTorch loop over
transformers' `GPTBigCodeForCausalLM`, same model shape, same batches, same steps, one process.

    python -m bench.pretrain                      # CPU, ~15M-parameter model
    python -m bench.pretrain --device cuda        # starcoderbase-1b, seq 2048 and 8192

CPU (default): a StarCoder-shaped model (multi-query attention, learned positions, 4x GELU MLP,
tied embeddings) of 8 layers, hidden 384, 6 heads, vocabulary 8,192, sequence 256: 15.3M
parameters. Both sides train fp32 with AdamW (0.9, 0.95), warmup + cosine learning rate and
gradient clipping at 1.0, no dropout, on the same random-token samples: ours through
`pretrain.train.train` (the real trainer, data read from a Megatron shard written here), the
baseline by indexing the same `PretrainDataset` samples. Each side runs `--rounds` times,
interleaved (ours, baseline, ours, ...) so load from other processes hits both alike; the first
`--warmup` steps of every round are left out of the timing. tokens/s = timed tokens / timed
seconds over all rounds. MFU is what our logger writes to metrics.jsonl (training FLOPs per
token from `ModelConfig.flops_per_token`: 6N plus causal attention), against `--peak-flops`;
on the CPU that defaults to this machine's measured fp32 GEMM rate, so it reads as a share of
what the CPU's matmuls can do here, not of a datasheet number.

CUDA (`--device cuda`, not run on the machine this was written on): the starcoderbase-1b preset
(24 layers, hidden 2048, 16 heads, one KV group, vocabulary 49,152), bf16 autocast over fp32
weights on both sides, random tokens, at sequence 2048 and 8192 with `--tokens-per-step`
tokens per optimizer step (micro-batch = tokens / sequence). Ours uses `attention: auto`
(TransformerEngine's spec if TE imports, else the SDPA core attention of pretrain/attention.py);
the baseline is GPTBigCode with `attn_implementation="sdpa"` and `torch.compile` per block (the
loop FACTS.md measured at 65.4K tokens/s at 2048 on one H100). Printed per side and sequence:
tokens/s, MFU against `--peak-flops` (default 989e12, H100 SXM dense bf16), peak memory
(`torch.cuda.max_memory_allocated`), first and last loss.

Last line: one JSON object, with at least `ratio` (ours / baseline tokens/s; on CUDA the one
at sequence 2048), `ours_tokens_per_s`, `baseline_tokens_per_s` and `mfu` (ours).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pretrain.config import load_train_config
from pretrain.data import PretrainDataset, microbatch_indices
from pretrain.metrics import read_metrics
from pretrain.model import ModelConfig
from pretrain.optim import lr_at
from pretrain.train import train

CPU_MODEL = {"num_layers": 8, "hidden_size": 384, "num_attention_heads": 6, "num_query_groups": 1,
             "max_position_embeddings": 256, "seq_length": 256, "vocab_size": 8192,
             "attention_dropout": 0.0, "hidden_dropout": 0.0}


def write_random_shard(root: Path, vocab: int, tokens: int, seed: int = 0) -> Path:
    """One Megatron shard of uniformly random tokens, documents of 1,000 tokens."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    builder = IndexedDatasetBuilder(str(root / "random.bin"), dtype=np.uint16)
    for start in range(0, tokens, 1000):
        doc = rng.integers(0, vocab, size=min(1000, tokens - start), dtype=np.uint16)
        builder.add_document(doc, [len(doc)])
    builder.finalize(str(root / "random.idx"))
    return root


def measured_gemm_flops(seconds: float = 3.0, n: int = 1024) -> float:
    """fp32 matmul FLOP/s of this CPU with torch's current thread count (best of a few runs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t))
    return best


def run_ours(args: argparse.Namespace, model: dict, shard: Path, out: Path, seq: int, micro: int,
             accum: int) -> dict:
    """Our trainer, unchanged; per-step times and MFU read back from its metrics.jsonl."""
    cfg = load_train_config(None, [], preset=None, model={**model, "seq_length": seq}, out_dir=str(out), tokenizer=None,
                            data={"sources": [{"path": str(shard)}], "valid_fraction": 0.0, "seed": 1},
                            fim=None, train_steps=args.steps, micro_batch_size=micro, grad_accum=accum,
                            log_interval=1, eval_interval=None, tensorboard=False, seed=args.seed,
                            peak_flops=args.peak_flops, attention=args.attention, recompute=args.recompute,
                            optim={"warmup_steps": 2, "lr": 1e-3, "min_lr": 1e-4})
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    train(cfg)
    records = [r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"]
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # 1B + AdamW is ~14 GB a round on CUDA
    timed = records[args.warmup:]
    tokens = micro * accum * seq
    seconds = sum(tokens / r["tokens_per_s"] for r in timed)
    return {"tokens": tokens * len(timed), "seconds": seconds,
            "mfu": sum(r["mfu"] * tokens / r["tokens_per_s"] for r in timed) / seconds,
            "losses": [r["loss"] for r in records],
            "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None}


def run_baseline(args: argparse.Namespace, model: dict, shard: Path, seq: int, micro: int, accum: int) -> dict:
    """A plain loop over transformers' GPTBigCodeForCausalLM on the same samples and schedule."""
    import torch.nn.functional as F
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    from pretrain.data import DataConfig, DataSource
    from pretrain.optim import OptimConfig

    mc = ModelConfig(**{**model, "seq_length": seq})
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    hf_cfg = GPTBigCodeConfig(vocab_size=mc.padded_vocab_size(), n_positions=mc.max_position_embeddings,
                              n_embd=mc.hidden_size, n_layer=mc.num_layers, n_head=mc.num_attention_heads,
                              n_inner=mc.ffn_hidden_size, multi_query=mc.num_query_groups == 1,
                              activation_function="gelu_pytorch_tanh", layer_norm_epsilon=mc.layernorm_epsilon,
                              resid_pdrop=mc.hidden_dropout, embd_pdrop=mc.hidden_dropout,
                              attn_pdrop=mc.attention_dropout, initializer_range=mc.init_method_std,
                              use_cache=False)
    net = GPTBigCodeForCausalLM._from_config(hf_cfg, attn_implementation="sdpa").to(device).train()
    if args.device == "cuda":
        for block in net.transformer.h:
            block.compile()
    optim = OptimConfig(lr=1e-3, min_lr=1e-4, warmup_steps=2)
    decay = [p for p in net.parameters() if p.dim() > 1]
    no_decay = [p for p in net.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": optim.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=optim.lr,
                            betas=(optim.beta1, optim.beta2), eps=optim.eps, fused=args.device == "cuda")
    data = PretrainDataset(DataConfig(sources=[DataSource(path=shard)], valid_fraction=0.0, seed=1), seq, "train",
                           None, None, args.steps * micro * accum)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if args.device == "cuda"
                else torch.autocast("cpu", enabled=False))
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    losses, times = [], []
    for step in range(args.steps):
        t = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, optim, args.steps)
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for m in range(accum):
            batch = torch.from_numpy(data.batch(microbatch_indices(step, m, micro, accum, 0, 1))).to(device)
            inputs, labels = batch[:, :-1], batch[:, 1:]  # [b, s]
            with autocast:
                logits = net(input_ids=inputs).logits  # [b, s, V]
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.reshape(-1))
            (loss / accum).backward()
            loss_sum += loss.item() / accum
        torch.nn.utils.clip_grad_norm_(net.parameters(), optim.clip_grad)
        opt.step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        losses.append(loss_sum)
    timed = times[args.warmup:]
    tokens = micro * accum * seq
    seconds = sum(timed)
    return {"tokens": tokens * len(timed), "seconds": seconds,
            "mfu": mc.flops_per_token(seq) * tokens * len(timed) / seconds / args.peak_flops,
            "losses": losses,
            "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None}


def compare(args: argparse.Namespace, model: dict, seq: int, work: Path) -> dict:
    mc = ModelConfig(**{**model, "seq_length": seq})
    micro = max(1, args.tokens_per_step // seq) if args.device == "cuda" else args.micro_batch
    accum = args.grad_accum
    shard = write_random_shard(work / f"shard_{seq}", mc.vocab_size, args.steps * micro * accum * (seq + 1) + 2000)
    totals = {"ours": [], "baseline": []}
    for r in range(args.rounds):
        totals["ours"].append(run_ours(args, model, shard, work / f"ours_{seq}_{r}", seq, micro, accum))
        totals["baseline"].append(run_baseline(args, model, shard, seq, micro, accum))
        if args.device == "cuda":
            torch.cuda.empty_cache()
    result = {"seq_length": seq, "micro_batch": micro, "grad_accum": accum,
              "parameters": mc.parameters(), "flops_per_token": mc.flops_per_token(seq)}
    for side, runs in totals.items():
        tokens, seconds = sum(r["tokens"] for r in runs), sum(r["seconds"] for r in runs)
        result[side] = {"tokens_per_s": tokens / seconds,
                        "mfu": sum(r["mfu"] * r["seconds"] for r in runs) / seconds,
                        "first_loss": runs[0]["losses"][0], "last_loss": runs[0]["losses"][-1],
                        "peak_memory_gb": max((r["peak_memory_gb"] or 0.0) for r in runs) or None}
    result["ratio"] = result["ours"]["tokens_per_s"] / result["baseline"]["tokens_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per round (cpu 6, cuda 20)")
    parser.add_argument("--warmup", type=int, default=None, help="steps per round left out of timing (cpu 1, cuda 5)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per side")
    parser.add_argument("--micro-batch", type=int, default=4, help="CPU micro-batch (sequences)")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--tokens-per-step", type=int, default=16384, help="CUDA: tokens per micro-batch")
    parser.add_argument("--seq", type=int, nargs="+", default=None, help="sequence lengths (cpu 256; cuda 2048 8192)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both sides")
    parser.add_argument("--peak-flops", type=float, default=None,
                        help="peak FLOP/s for MFU (cpu: measured fp32 GEMM rate; cuda: 989e12)")
    parser.add_argument("--attention", choices=("auto", "te", "sdpa", "local"), default="auto",
                        help="our core attention (see pretrain/attention.py)")
    parser.add_argument("--recompute", action="store_true", help="our full activation recomputation")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    cuda = args.device == "cuda"
    args.steps = args.steps or (20 if cuda else 6)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    if args.warmup >= args.steps:
        parser.error(f"--warmup {args.warmup} must be below --steps {args.steps}")
    seqs = args.seq or ([2048, 8192] if cuda else [256])
    if cuda:
        from pretrain.model import load_preset
        from starforge.config import to_dict

        model = {**to_dict(load_preset("starcoderbase-1b")), "attention_dropout": 0.0, "hidden_dropout": 0.0}
        args.peak_flops = args.peak_flops or 989e12
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        torch.set_num_threads(args.threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        model = dict(CPU_MODEL)
        args.peak_flops = args.peak_flops or measured_gemm_flops()
        print(f"cpu: {args.threads} threads, measured fp32 GEMM peak {args.peak_flops / 1e9:.1f} GFLOP/s")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_pretrain_") as tmp:
        for seq in seqs:
            res = compare(args, {**model, "max_position_embeddings": max(model["max_position_embeddings"], seq)},
                          seq, Path(tmp))
            results.append(res)
            print(f"seq {seq}: {res['parameters'] / 1e6:.1f}M parameters, micro-batch {res['micro_batch']} x "
                  f"accum {res['grad_accum']}, {args.steps} steps x {args.rounds} rounds ({args.warmup} untimed)")
            for side in ("ours", "baseline"):
                r = res[side]
                mem = f", peak memory {r['peak_memory_gb']:.1f} GiB" if r["peak_memory_gb"] else ""
                print(f"  {side:8s} {r['tokens_per_s']:10.0f} tokens/s  MFU {r['mfu']:.1%}{mem}  "
                      f"loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}")
            print(f"  ratio ours/baseline {res['ratio']:.2f}")
    head = results[0]
    summary = {"device": args.device, "ratio": head["ratio"], "ours_tokens_per_s": head["ours"]["tokens_per_s"],
               "baseline_tokens_per_s": head["baseline"]["tokens_per_s"], "mfu": head["ours"]["mfu"],
               "baseline_mfu": head["baseline"]["mfu"], "peak_flops": args.peak_flops, "steps": args.steps,
               "rounds": args.rounds, "attention": args.attention,
               "runs": [{k: v for k, v in r.items()} for r in results]}
    if not math.isfinite(summary["ratio"]):
        raise SystemExit("bench: no timed steps")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
