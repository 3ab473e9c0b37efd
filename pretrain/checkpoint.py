"""Checkpoints with megatron-core `dist_checkpointing`.

Layout of `OUT/checkpoints/`:

    latest                      text file: the last complete step, e.g. "200"
    iter_0000200/
        run_config.yaml         the full resolved TrainConfig (model shape, tokenizer path...)
        meta.json               {"step", "consumed_samples", "tensor_parallel", "pipeline_parallel", ...}
        rng/rank_00000.pt       per global rank: torch CPU (and CUDA) RNG, megatron's tracker states
        common.pt, *.distcp, metadata.json   dist_checkpointing: model (key "model.*"),
                                AdamW moments (keys "optimizer.state.exp_avg.*" ...), scheduler

Model and optimizer tensors are saved as megatron ShardedTensors, so a checkpoint written at
one tensor/pipeline-parallel size holds global tensors that export (and a run at another size)
can read. They are written through torch's synchronous `FileSystemWriter` in megatron-core's
`torch_dist` format (`_SyncSaveStrategy`): megatron-core's own writer spawns a manager process
and forks writer processes per save (it hung on our 2-core machine) and calls
`torch.cuda.synchronize()`. Loading uses megatron-core's default `torch_dist` reader. `latest` is written after every rank finished, so a crash mid-save leaves the
previous checkpoint as `latest`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from starforge.errors import PretrainError

log = logging.getLogger(__name__)


def iter_dir(root: Path, step: int) -> Path:
    return root / f"iter_{step:07d}"


def latest_step(root: Path) -> int | None:
    marker = root / "latest"
    if not marker.is_file():
        return None
    text = marker.read_text(encoding="utf-8").strip()
    if not text.isdigit():
        raise PretrainError(f"{marker}: expected a step number, got {text[:40]!r}; fix or delete it")
    return int(text)


def _rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


def _barrier() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def _sharded_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    from megatron.core.dist_checkpointing.optimizer import (
        get_param_id_to_sharded_param_map,
        optim_state_to_sharding_state,
    )

    model_sd = model.sharded_state_dict(prefix="model.")
    optim_sd = optimizer.state_dict()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    optim_state_to_sharding_state(optim_sd, get_param_id_to_sharded_param_map(model_sd, params),
                                  exclude_keys=("step",))
    return {"model": model_sd, "optimizer": optim_sd}


def rng_state() -> dict[str, Any]:
    from megatron.core.tensor_parallel import get_cuda_rng_tracker

    state = {"torch": torch.get_rng_state(), "tracker": get_cuda_rng_tracker().get_states()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    from megatron.core.tensor_parallel import get_cuda_rng_tracker

    torch.set_rng_state(state["torch"])
    get_cuda_rng_tracker().set_states(state["tracker"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save(root: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
         meta: dict[str, Any], run_config: dict[str, Any]) -> Path:
    """Write `root/iter_{step}` on every rank, then point `root/latest` at it. Without an
    optimizer (`pretrain import`) only the model is written and meta.json says `weights_only`:
    such a checkpoint starts runs (`init_from`) and exports, but cannot be resumed."""
    import yaml
    from megatron.core import dist_checkpointing

    path = iter_dir(root, step)
    if _rank() == 0:
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    _barrier()
    if optimizer is None:
        state = {"model": model.sharded_state_dict(prefix="model.")}
        meta = {**meta, "weights_only": True}
    else:
        state = _sharded_state(model, optimizer)
        state["scheduler"] = {"step": step}
    dist_checkpointing.save(state, str(path), sharded_strategy=_sync_save_strategy())
    (path / "rng").mkdir(exist_ok=True)
    torch.save(rng_state(), path / "rng" / f"rank_{_rank():05d}.pt")
    _barrier()
    if _rank() == 0:
        (path / "run_config.yaml").write_text(yaml.safe_dump(run_config, sort_keys=False), encoding="utf-8")
        (path / "meta.json").write_text(json.dumps({"step": step, **meta}, indent=2) + "\n", encoding="utf-8")
        (root / "latest").write_text(f"{step}\n", encoding="utf-8")
    _barrier()
    log.info("checkpoint: step %d saved to %s", step, path)
    return path


def read_meta(path: Path) -> dict[str, Any]:
    meta = path / "meta.json"
    if not meta.is_file():
        raise PretrainError(f"{path}: not a starforge checkpoint (no meta.json); pass an iter_* directory")
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise PretrainError(f"{meta}: corrupt ({exc}); pick another checkpoint") from None


def load(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, optimizer and this rank's RNG from `path`; returns its meta.json.

    A checkpoint of another shape, or one with missing/corrupt files, raises a one-line
    PretrainError before any tensor is modified."""
    from megatron.core import dist_checkpointing
    from torch.distributed.checkpoint.api import CheckpointException  # a BaseException

    from pretrain.optim import init_state

    meta = read_meta(path)
    if meta.get("weights_only"):
        raise PretrainError(f"{path}: holds model weights only (written by `starforge pretrain import`), no "
                            "optimizer to resume; start a run from it with init_from (`finetune continue --from`)")
    init_state(optimizer)
    state = _sharded_state(model, optimizer)
    try:
        expected = dist_checkpointing.load_tensors_metadata(str(path))
    except (Exception, CheckpointException) as exc:
        raise PretrainError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}); "
                            "pick another checkpoint or start without --resume") from None
    _check_shapes(path, state["model"], expected)
    try:
        loaded = dist_checkpointing.load(state, str(path))
        same_layout = _layout(meta) == _current_layout()
        rng = torch.load(path / "rng" / f"rank_{_rank():05d}.pt", weights_only=False) if same_layout else None
    except (Exception, CheckpointException) as exc:
        raise PretrainError(f"{path}: cannot load checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
                            "it is corrupt or was written by another layout") from None
    model.load_state_dict({k.removeprefix("model."): v for k, v in loaded["model"].items()}, strict=True)
    # AdamW's per-parameter step counter is not sharded (a scalar): every parameter is updated
    # at every step, so it equals the checkpoint's step.
    for param_state in loaded["optimizer"]["state"].values():
        param_state["step"] = torch.tensor(float(meta["step"]))
    optimizer.load_state_dict(loaded["optimizer"])
    if rng is not None:
        set_rng_state(rng)
    else:
        # Model and optimizer tensors are global and reshard; per-rank RNG streams do not map
        # across layouts, so dropout after such a resume is not bit-identical to the original run.
        log.warning("%s: written at tensor x pipeline x data parallel %s, resumed at %s; RNG states not restored",
                    path, "x".join(map(str, _layout(meta))), "x".join(map(str, _current_layout())))
    return meta


def resolve(path: Path) -> Path:
    """Accept an iter_* directory or a checkpoints/ directory holding `latest`."""
    path = Path(path)
    if (path / "latest").is_file():
        path = iter_dir(path, latest_step(path))
    if not path.is_dir():
        raise PretrainError(f"{path}: checkpoint directory not found")
    return path


def load_weights(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Model weights only, for continued pretraining: the optimizer, schedule, step and RNG stay
    this run's own. Same shape checks (one-line PretrainError) as `load`."""
    from megatron.core import dist_checkpointing
    from torch.distributed.checkpoint.api import CheckpointException  # a BaseException

    meta = read_meta(path)
    model_sd = model.sharded_state_dict(prefix="model.")
    try:
        expected = dist_checkpointing.load_tensors_metadata(str(path))
    except (Exception, CheckpointException) as exc:
        raise PretrainError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}); "
                            "pick another checkpoint for init_from") from None
    _check_shapes(path, model_sd, expected)
    try:
        loaded = dist_checkpointing.load({"model": model_sd}, str(path))
    except (Exception, CheckpointException) as exc:
        raise PretrainError(f"{path}: cannot load model weights ({type(exc).__name__}: {str(exc)[:200]}); "
                            "it is corrupt or of another shape") from None
    model.load_state_dict({k.removeprefix("model."): v for k, v in loaded["model"].items()}, strict=True)
    return meta


def _layout(meta: dict[str, Any]) -> tuple[int, int, int]:
    return (int(meta.get("tensor_parallel", 1)), int(meta.get("pipeline_parallel", 1)),
            int(meta.get("data_parallel", 1)))


def _current_layout() -> tuple[int, int, int]:
    from megatron.core import parallel_state

    return (parallel_state.get_tensor_model_parallel_world_size(),
            parallel_state.get_pipeline_model_parallel_world_size(), parallel_state.get_data_parallel_world_size())


def _check_shapes(path: Path, model_sd: dict[str, Any], saved: dict[str, Any]) -> None:
    from megatron.core.dist_checkpointing.mapping import ShardedTensor

    for value in model_sd.values():
        if not isinstance(value, ShardedTensor):
            continue
        if value.key not in saved:
            raise PretrainError(f"{path}: checkpoint has no tensor '{value.key}'; it was written for another "
                                "model shape (compare its run_config.yaml with your model config)")
        got = tuple(saved[value.key].global_shape)
        if got != tuple(value.global_shape):
            raise PretrainError(f"{path}: '{value.key}' is {got} in the checkpoint but {tuple(value.global_shape)} "
                                "in this model; the checkpoint is for another model shape")


def _sync_save_strategy():
    from megatron.core.dist_checkpointing.strategies.torch import (
        MCoreSavePlanner,
        TorchDistSaveShardedStrategy,
        _replace_state_dict_keys_with_sharded_keys,
        mcore_to_pyt_state_dict,
    )
    from torch.distributed.checkpoint import FileSystemWriter
    from torch.distributed.checkpoint import save as dcp_save

    class _SyncSaveStrategy(TorchDistSaveShardedStrategy):
        """megatron-core's torch_dist save, minus its async multi-process writer."""

        def save(self, sharded_state_dict: Any, checkpoint_dir: Path) -> None:
            flat, _, _ = _replace_state_dict_keys_with_sharded_keys(sharded_state_dict, self.keep_only_main_replica)
            dcp_save(mcore_to_pyt_state_dict(flat, False),
                     storage_writer=FileSystemWriter(str(checkpoint_dir), thread_count=1),
                     planner=MCoreSavePlanner(dedup_replicated_tensors=not self.keep_only_main_replica,
                                              flatten_state_dict=False))

    return _SyncSaveStrategy("torch_dist", 1)
