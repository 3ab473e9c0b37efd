"""Fixed-length training samples from Megatron `.bin/.idx` shards, blended by source weight,
split into train/valid, with fill-in-the-middle applied per sample.

We do not use megatron-core's `GPTDataset`: it builds and caches its indices on disk per run
and splits by document, while FIM and exact resume want a sample to be a pure function of its
global index. So the index here is small, deterministic and in memory:

* A source (one prefix or a folder of prefixes) is the concatenation of its shards' token
  streams (documents already end in `<|endoftext|>`), cut into windows of `seq_length + 1`
  tokens that overlap by one token (labels are inputs shifted by one), as Megatron does.
* The last `valid_fraction` of a source's windows (at least one) are its validation split.
* Each epoch over a source's train windows is a permutation seeded by (seed, source, epoch).
* Sources are interleaved with megatron-core's greedy blending (`build_blending_indices`): at
  every position the source furthest below its weight share comes next.
* Sample `g` gets FIM from its own generator, `np.random.default_rng([seed, split, g])`, so
  a resumed run sees byte-identical samples.
* Shards are opened through starforge/formats/shards.py (a half shard, a corrupt index or a
  truncated `.bin` is a one-line error before training); every window read is checked against
  the model's vocabulary (`check_ids`), and `check_tokenizer` refuses shards another tokenizer
  made (their meta.json against the model's fingerprint).

A step's samples are `g = step * global_batch + ...`: the data position is the step.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pretrain.fim import FimConfig, FimTransform
from starforge.errors import FormatError, PretrainError
from starforge.formats.shards import check_ids, check_tokenizer, shard_prefixes, shard_tokens
from starforge.formats.tokenizer import EOD

log = logging.getLogger(__name__)

SPLITS = {"train": 0, "valid": 1}


@dataclass
class DataSource:
    path: Path = Path("shards")
    """A shard prefix (`PREFIX` of `PREFIX.bin/.idx`, or either file) or a folder holding `*.idx` shards."""
    weight: float = 1.0
    """Relative share of training samples drawn from this source."""


@dataclass
class DataConfig:
    sources: list[DataSource] = field(default_factory=lambda: [DataSource()])
    valid_fraction: float = 0.02
    """Share of each source's windows held out for validation loss (at least one window)."""
    seed: int = 1234
    """Seeds the epoch permutations and the per-sample FIM generators."""


def source_prefixes(path: Path) -> list[Path]:
    """The shard prefixes of one data source; a FormatError becomes a PretrainError naming the key."""
    try:
        return shard_prefixes(path)
    except FormatError as exc:
        raise PretrainError(f"{exc}, or fix data.sources[].path") from None


def check_data_tokenizer(cfg: DataConfig, fingerprint: dict[str, Any] | None, tokenizer_path: Any) -> None:
    """Refuse sources whose shards another tokenizer made than the model's (`fingerprint`; with
    None, sources of two tokenizers); warn once for shards that record none."""
    prefixes = [p for src in cfg.sources for p in source_prefixes(Path(src.path))]
    try:
        unchecked = check_tokenizer(prefixes, fingerprint, tokenizer_path)
    except FormatError as exc:
        raise PretrainError(str(exc)) from None
    if unchecked and os.environ.get("RANK", "0") == "0":  # before the process group: torchrun's rank
        log.warning("%d of %d shards (%s...) record no tokenizer (not written by `starforge data tokenize`): "
                    "their tokenizer cannot be checked against the model's", len(unchecked), len(prefixes),
                    unchecked[0])


class TokenStream:
    """One source: its shards' tokens as one memory-mapped sequence (a folder or a prefix, read
    with the prefix rule of starforge/formats/shards.py). With `vocab_size`, every read is
    checked to hold ids below it."""

    def __init__(self, path: Path, vocab_size: int | None = None):
        self.path = path
        self.vocab_size = vocab_size
        try:
            shards = [(prefix, shard_tokens(prefix)) for prefix in source_prefixes(path)]
        except FormatError as exc:
            raise PretrainError(f"{exc}, or fix data.sources[].path") from None
        self.prefixes: list[Path] = [prefix for prefix, p in shards if len(p)]
        self.parts: list[np.ndarray] = [p for _, p in shards if len(p)]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        if self.offsets[-1] == 0:
            raise PretrainError(f"{path}: shards hold no tokens")

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def read(self, start: int, length: int) -> np.ndarray:
        out = np.empty(length, dtype=np.int64)
        pos, filled = start, 0
        while filled < length:
            part = int(np.searchsorted(self.offsets, pos, side="right")) - 1
            local = pos - int(self.offsets[part])
            take = min(length - filled, len(self.parts[part]) - local)
            chunk = self.parts[part][local:local + take]
            if self.vocab_size is not None:
                try:
                    check_ids(chunk, self.vocab_size, f"{self.prefixes[part]}.bin", local)
                except FormatError as exc:
                    raise PretrainError(str(exc)) from None
            out[filled:filled + take] = chunk
            filled += take
            pos += take
        return out


class PretrainDataset:
    """Sample `g` of a split: `seq_length + 1` int64 tokens, FIM applied if configured."""

    def __init__(self, cfg: DataConfig, seq_length: int, split: str = "train", fim: FimConfig | None = None,
                 tokenizer: Any = None, num_samples: int = 0, vocab_size: int | None = None,
                 eod_token: str = EOD):
        if not cfg.sources:
            raise PretrainError("data.sources is empty; name at least one shard folder or prefix")
        if not 0.0 <= cfg.valid_fraction < 1.0:
            raise PretrainError(f"data.valid_fraction={cfg.valid_fraction} must be in [0, 1)")
        self.cfg, self.seq_length, self.split = cfg, seq_length, split
        self.streams = [TokenStream(Path(s.path), vocab_size) for s in cfg.sources]
        self.windows: list[np.ndarray] = []  # per source, the window numbers of this split
        for src, stream in zip(cfg.sources, self.streams):
            n = (len(stream) - 1) // seq_length
            n_valid = max(1, int(round(n * cfg.valid_fraction))) if cfg.valid_fraction > 0 else 0
            if n - n_valid < 1:
                raise PretrainError(f"{src.path}: {len(stream)} tokens make {n} samples of length "
                                    f"{seq_length + 1}; need more data or a shorter model.seq_length")
            self.windows.append(np.arange(n - n_valid, n) if split == "valid" else np.arange(n - n_valid))
        weights = np.array([s.weight for s in cfg.sources], dtype=np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise PretrainError(f"data.sources[].weight must be >= 0 with a positive sum, got {weights.tolist()}")
        self.weights = weights / weights.sum()
        self._perms: dict[tuple[int, int], np.ndarray] = {}
        self._blend_source = np.zeros(0, dtype=np.int16)
        self._blend_local = np.zeros(0, dtype=np.int64)
        self.fim = None
        if fim is not None and fim.rate > 0:
            if tokenizer is None:
                raise PretrainError("FIM needs the run's tokenizer; set tokenizer: PATH")
            self.fim = FimTransform(fim, tokenizer, eod_token)
        self._ensure(max(num_samples, 1))

    def num_windows(self) -> int:
        return int(sum(len(w) for w in self.windows))

    def _ensure(self, size: int) -> None:
        """Extend the blending index to cover samples [0, size)."""
        if size <= len(self._blend_source):
            return
        size = max(size, 2 * len(self._blend_source))
        source = np.zeros(size, dtype=np.int16)
        local = np.zeros(size, dtype=np.int64)
        try:
            from megatron.core.datasets import helpers_cpp

            helpers_cpp.build_blending_indices(source, local, self.weights, len(self.weights), size, False)
        except ImportError:  # same greedy rule, in Python
            counts = np.zeros(len(self.weights), dtype=np.int64)
            for i in range(size):
                k = int(np.argmax(self.weights * max(i, 1) - counts))
                source[i], local[i] = k, counts[k]
                counts[k] += 1
        self._blend_source, self._blend_local = source, local

    def _window(self, source: int, j: int) -> int:
        wins = self.windows[source]
        epoch, pos = divmod(j, len(wins))
        if self.split == "valid":
            return int(wins[pos])
        key = (source, epoch)
        if key not in self._perms:
            rng = np.random.default_rng([self.cfg.seed, source, epoch])
            self._perms[key] = rng.permutation(len(wins))
        return int(wins[self._perms[key][pos]])

    def __getitem__(self, g: int) -> np.ndarray:
        self._ensure(g + 1)
        source = int(self._blend_source[g])
        window = self._window(source, int(self._blend_local[g]))
        sample = self.streams[source].read(window * self.seq_length, self.seq_length + 1)
        if self.fim is not None:
            rng = np.random.default_rng([self.cfg.seed, SPLITS[self.split], g])
            sample = np.asarray(self.fim(sample, rng), dtype=np.int64)
            if sample.shape != (self.seq_length + 1,):
                raise RuntimeError(f"FimTransform returned shape {sample.shape}, expected {(self.seq_length + 1,)}")
        return sample

    def batch(self, indices: range | list[int]) -> np.ndarray:
        """[len(indices), seq_length + 1] int64."""
        return np.stack([self[g] for g in indices])


def microbatch_indices(step: int, micro: int, micro_batch_size: int, grad_accum: int, dp_rank: int,
                       dp_size: int) -> range:
    """Global sample indices of one microbatch on one data-parallel rank.

    Step `s` consumes samples [s * global_batch, (s + 1) * global_batch): a resumed run at step s
    starts exactly where the interrupted one stopped, whatever the data-parallel size."""
    global_batch = micro_batch_size * grad_accum * dp_size
    start = step * global_batch + (micro * dp_size + dp_rank) * micro_batch_size
    return range(start, start + micro_batch_size)
