"""Seq-VCR and pause tokens on n x m multiplication: baseline, + pause, + Seq-VCR, + both, at
equal steps over several seeds; held-out exact match and the collapse metric for each.

The model is the trainer's megatron-core `GPTModel` (`pretrain.model.build_model`, preset
`seqvcr-tiny`) and the regulariser is the trainer's (`starforge.modeling.seqvcr` hooked by `pretrain.seqvcr_hook`: same forward hook, same
projection, same loss). The loop is a small one written here, not `pretrain.train`: the task
needs fresh question/answer samples with a loss on answer tokens only, which the trainer's
shard windows do not carry. Every variant trains on the same pairs in the same order for a seed.

Exact match: greedy decoding of all n+m answer digits for each held-out pair, prompt = question
(+ pauses). Entropy: `spectrum_entropy` of the hooked layer's outputs (the layer Seq-VCR
regularises) at the positions that predict answer tokens, over the held-out set; max ln(hidden).

    python -m bench.seqvcr --task 2x2 --seeds 5 --steps 1500 --batch 32   # CPU, ~22 min on 2 cores
    python -m bench.seqvcr --device cuda --task 5x5 --preset seqvcr-gpt2-small --steps 20000 --batch 32 --projection 2048 --lr 3e-4

Last line: one JSON object {task, baseline, pause, seqvcr, seqvcr_pause, spread, seeds, entropy, ...}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

VARIANTS = {"baseline": (False, False), "pause": (True, False), "seqvcr": (False, True),
            "seqvcr_pause": (True, True)}


def run_one(args: dict) -> dict:
    """Train one (variant, seed) and evaluate it; runs in its own process (own process group)."""
    import numpy as np
    import torch

    torch.set_num_threads(args["threads"])
    from pretrain import parallel, seqvcr_hook
    from pretrain.model import build_model, load_preset
    from pretrain.optim import OptimConfig, build_optimizer, clip_gradients, lr_at
    from pretrain.step import causal_mask
    from pretrain.tasks.multiplication import MultiplicationTask, multiplication_tokenizer
    from starforge.modeling.seqvcr import SeqVcrConfig

    pause, reg = VARIANTS[args["variant"]]
    num_pause = args["num_pause"] if pause else 0
    n, m = (int(x) for x in args["task"].split("x"))
    task = MultiplicationTask(n, m, num_heldout=args["heldout"], seed=0)
    tok = multiplication_tokenizer()
    model_cfg = load_preset(args["preset"])
    model_cfg.vocab_size = tok.get_vocab_size()
    device = torch.device(args["device"])
    torch.manual_seed(args["seed"])
    parallel.init_parallel(model_cfg, parallel.ParallelConfig(), args["seed"])
    try:
        model = build_model(model_cfg, on_gpu=device.type == "cuda").to(device)
        cfg = SeqVcrConfig(layer=args["layer"], projection_size=args["projection"],
                           lambda_var=args["lambda_var"], lambda_cov=args["lambda_cov"])
        if reg:
            capture = seqvcr_hook.attach(model, cfg, model_cfg.num_layers, model_cfg.hidden_size)
        else:  # metric only: the same layer, no loss
            capture = seqvcr_hook.LayerCapture(model, cfg.layer_index(model_cfg.num_layers))
        optim_cfg = OptimConfig(lr=args["lr"], min_lr=args["lr"] / 10, warmup_steps=args["warmup"],
                                weight_decay=0.1, clip_grad=1.0)
        optimizer = build_optimizer(model, optim_cfg)
        data_rng = np.random.default_rng([args["seed"], 1])
        seq = task.prompt_length(num_pause) + n + m + 1 - 1
        positions = torch.arange(seq, device=device).unsqueeze(0)
        attn = causal_mask(seq, device)
        t0 = time.perf_counter()
        model.train()
        for step in range(args["steps"]):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, optim_cfg, args["steps"])
            ids, mask = task.encode(task.train_pairs(data_rng, args["batch"]), tok, num_pause)
            ids_t = torch.from_numpy(ids).to(device)
            target_mask = torch.from_numpy(mask[:, 1:]).to(device).float()
            inputs, labels = ids_t[:, :-1], ids_t[:, 1:].contiguous()
            per_token = model(inputs, positions.expand_as(inputs), attn, labels=labels)  # [b, s]
            loss = (per_token * target_mask).sum() / target_mask.sum()
            if reg:
                loss = loss + model.seqvcr(capture.pop())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(model, optim_cfg.clip_grad)
            optimizer.step()
        train_s = time.perf_counter() - t0
        exact, entropy = evaluate(model, capture, task, tok, num_pause, device)
        return {**{k: args[k] for k in ("variant", "seed")}, "exact": exact, "entropy": entropy,
                "final_loss": float(loss.detach()), "train_s": train_s}
    finally:
        parallel.shutdown()


def evaluate(model, capture, task, tok, num_pause: int, device) -> tuple[float, float]:
    """Held-out exact match by greedy decoding, and the collapse metric on teacher-forced inputs."""
    import torch

    from pretrain.step import causal_mask
    from pretrain.tasks.multiplication import parse_answer
    from starforge.modeling.seqvcr import spectrum_entropy

    model.eval()
    ids, mask = task.encode(task.heldout, tok, num_pause)
    ids_t = torch.from_numpy(ids).to(device)
    width = task.n + task.m
    p = task.prompt_length(num_pause)
    with torch.no_grad():
        inputs = ids_t[:, :-1]
        seq = inputs.shape[1]
        model(inputs, torch.arange(seq, device=device).unsqueeze(0).expand_as(inputs), causal_mask(seq, device))
        hidden = capture.pop()  # [b, s, h]
        entropy = spectrum_entropy(hidden, torch.from_numpy(mask[:, 1:]).to(device))
        out = ids_t[:, :p]
        for _ in range(width):
            s = out.shape[1]
            logits = model(out, torch.arange(s, device=device).unsqueeze(0).expand_as(out), causal_mask(s, device))
            capture.hidden = None
            nxt = logits[:, -1, : tok.get_vocab_size()].argmax(-1, keepdim=True)
            out = torch.cat([out, nxt], dim=1)
    correct = 0
    for (a, b), row in zip(task.heldout, out[:, p:].tolist()):
        correct += parse_answer([tok.id_to_token(t) for t in row], task.n, task.m) == a * b
    model.train()
    return correct / len(task.heldout), entropy


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="2x2", help="n x m digits, e.g. 2x2, 5x5")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--num-pause", type=int, default=2, help="pause tokens of the pause variants (paper: 2)")
    ap.add_argument("--layer", type=int, default=None, help="1-based layer Seq-VCR regularises; default last")
    ap.add_argument("--projection", type=int, default=512, help="Seq-VCR projection width (paper: 2048)")
    ap.add_argument("--lambda-var", type=float, default=1.0)
    ap.add_argument("--lambda-cov", type=float, default=0.004)
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--preset", default="seqvcr-tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2, help="runs in parallel (CPU), one torch thread each")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    variants = a.variants.split(",")
    jobs = [{"task": a.task, "variant": v, "seed": s, "steps": a.steps, "batch": a.batch, "lr": a.lr,
             "warmup": a.warmup, "num_pause": a.num_pause, "layer": a.layer, "projection": a.projection,
             "lambda_var": a.lambda_var, "lambda_cov": a.lambda_cov, "heldout": a.heldout, "preset": a.preset,
             "device": a.device, "threads": 1 if a.device == "cpu" else 4}
            for s in range(a.seeds) for v in variants]
    t0 = time.perf_counter()
    results = []
    workers = 1 if a.device != "cpu" else a.workers
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for r in pool.map(run_one, jobs):
            results.append(r)
            print(f"{r['variant']:>13} seed {r['seed']}: exact {r['exact']:.3f} entropy {r['entropy']:.3f} "
                  f"loss {r['final_loss']:.4f} ({r['train_s']:.0f} s)", flush=True)
    summary: dict = {"task": a.task}
    spread, entropy, entropy_spread = {}, {}, {}
    for v in variants:
        ex = [r["exact"] for r in results if r["variant"] == v]
        en = [r["entropy"] for r in results if r["variant"] == v]
        summary[v] = round(statistics.mean(ex), 4)
        spread[v] = round(statistics.stdev(ex), 4) if len(ex) > 1 else 0.0
        entropy[v] = round(statistics.mean(en), 4)
        entropy_spread[v] = round(statistics.stdev(en), 4) if len(en) > 1 else 0.0
    summary.update(spread=spread, seeds=a.seeds, entropy=entropy, entropy_spread=entropy_spread,
                   per_seed_entropy={v: [round(r["entropy"], 4) for r in results if r["variant"] == v]
                                     for v in variants},
                   per_seed={v: [round(r["exact"], 4) for r in results if r["variant"] == v] for v in variants},
                   entropy_max=round(__import__("math").log(load_hidden(a.preset)), 4),
                   steps=a.steps, batch=a.batch, num_pause=a.num_pause, projection=a.projection,
                   preset=a.preset, device=a.device, wall_s=round(time.perf_counter() - t0, 1))
    print(json.dumps(summary))
    return summary


def load_hidden(preset: str) -> int:
    from pretrain.model import load_preset

    return load_preset(preset).hidden_size


if __name__ == "__main__":
    main()
