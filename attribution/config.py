"""The attribution stage's config: one dataclass tree, YAML presets in `configs/attribution/`.

Build-time fields (what is indexed and how) are saved as `INDEX_DIR/config.yaml` and reused by
every query, so a check always hashes n-grams the way the index stored them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from starforge import executors
from starforge.errors import ConfigError


@dataclass
class SourceConfig:
    extensions: list[str] | None = None
    """File suffixes taken from a plain folder of source files (e.g. ['.py']); None takes every UTF-8 text file."""
    exclude_dirs: list[str] = field(default_factory=lambda: [".git", "__pycache__", "site-packages", "node_modules"])
    """Folder names skipped anywhere under a plain source folder."""
    max_file_bytes: int = 1_000_000
    """Larger files in a plain folder are skipped (StarCoder's curation drops them too)."""


@dataclass
class ExactConfig:
    min_len: int = 64
    """Shortest matching span reported, in UTF-8 bytes (OLMoTrace-style maximal spans)."""
    max_locations: int = 10
    """Training locations listed per matching span; `count` still gives the total."""
    sample_ranks: int = 1000
    """A span seen more than max_locations times lists places picked from this many evenly spaced
    occurrences (one per distinct file first), so a licence header seen 10**5 times costs no more."""
    scan_cap: int = 4096
    """Copies of one snippet anchor's core extended at most; past it, those that sort next to the
    rest of the snippet (the longest right extensions) and an even sample of the others, so a
    licence line seen 10**5 times in a shard costs ~4096 comparisons. Counts stay exact."""
    max_spans: int = 200
    """Stop after this many maximal spans (periodic text such as 'x' * 10**5 has one per byte)."""
    max_snippet_bytes: int = 100_000
    """Longer snippets are refused with an error: unseen text costs one find per min_len/2 bytes
    (0.04-0.3 ms each), so 100 KB answers in about a second and 1 MB would take ~10 s."""
    preload: bool = True
    """At open, ask the kernel to read each shard's text and suffix array into the page cache
    (posix_fadvise WILLNEED, in the background): a lookup on cold pages waits for ~2 disk reads
    per bisection step (3.7 ms vs 0.1 ms measured here). Turn off where the index exceeds RAM."""
    route_fpr: float = 0.001
    """False-positive rate of each shard's anchor filter (attribution.route): the share of shards
    searched in vain per anchor tested; ~0.07 bytes per corpus byte at 0.001."""
    mem_gib: int = 2
    """Memory the infini-gram suffix-array builder may use."""
    cpus: int = 1
    """Processes the infini-gram suffix-array builder may run."""


@dataclass
class BloomConfig:
    ngram: int = 50
    """Characters per n-gram (Data Portraits used 50)."""
    stride: int = 50
    """Training files store the n-grams at offsets 0, stride, 2*stride...; queries test every offset."""
    fpr: float = 0.001
    """Target false-positive rate of the filter (sized from the n-gram count of each shard)."""
    min_distinct_chars: int = 8
    """N-grams with fewer distinct characters (`#####...`, runs of spaces) are neither stored nor scored."""
    score_window: int = 500
    """Query offsets per scoring window: the best phase is found per window and windows are averaged."""
    max_score_windows: int = 200
    """A longer snippet is scored on this many evenly spaced windows (bounds a 1 MB query to ~1 s)."""


@dataclass
class SearchConfig:
    top_k: int = 10
    """Ranked files returned by BM25 search."""
    max_query_terms: int = 256
    """Distinct code tokens of a snippet used in the BM25 query."""
    heap_mb: int = 64
    """Memory for tantivy's index writer."""


@dataclass
class ServerConfig:
    """`starforge attribution serve`: how many requests it takes at once and how long it waits."""

    processes: int = 1
    """Server processes forked after the index is open (pre-fork; they share its pages): checks are
    mostly Python, one GIL a process, so one process per core answers about that many times more."""
    workers: int = 2
    """Checks run at once per process (threads; the engines release the GIL in their lookups)."""
    queue: int = 256
    """Checks that may wait for a worker; one more gets 503 with Retry-After at once."""
    max_connections: int = 512
    """Open connections (each read on its own thread); one more gets 503 and is closed."""
    backlog: int = 1024
    """Listen backlog: connections the kernel holds before the server accepts them (http.server's 5
    reset half of 50 concurrent clients)."""
    read_timeout_s: float = 10.0
    """A connection that sends nothing for this long is closed (408 if a request was started), so
    idle or half-sent requests cannot hold threads forever."""


@dataclass
class SlurmConfig(executors.SlurmConfig):
    """Slurm job settings of the index build: `starforge/executors.py`'s, with longer-lived,
    memory-hungrier defaults for suffix-array builds."""

    time: str = "04:00:00"
    """Wall-time limit of each task (one or more shards)."""
    mem_per_cpu_gb: int = 4
    """Memory per CPU (GB); the suffix-array builder needs about exact.mem_gib plus the shard's text."""


@dataclass
class BuildConfig:
    executor: Literal["local", "slurm"] = "local"
    """Where shard builds run: datatrove's LocalPipelineExecutor on this machine, or a Slurm job array."""
    tasks: int | None = None
    """datatrove tasks; task r builds the shards r, r+tasks, ... still to build. None: one task per shard."""
    workers: int = 1
    """Local tasks run at once (processes); 1 runs them one after another in this process."""
    dry_run: bool = False
    """With executor=slurm: write the sbatch script and pickled job under INDEX_DIR/slurm/, submit nothing."""
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    """Job settings used with executor=slurm."""


@dataclass
class AttributionConfig:
    input: Path | None = None
    """Kept output of `starforge data` (a folder with kept/, or kept/ itself) or a plain folder of repositories."""
    output: Path | None = None
    """Index directory to write (INDEX_DIR)."""
    source: SourceConfig = field(default_factory=SourceConfig)
    exact: ExactConfig = field(default_factory=ExactConfig)
    bloom: BloomConfig = field(default_factory=BloomConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    def __post_init__(self) -> None:
        if self.bloom.ngram < 1 or self.bloom.stride < 1:
            raise ConfigError("bloom.ngram and bloom.stride must be >= 1")
        if not 0.0 < self.bloom.fpr < 1.0:
            raise ConfigError(f"bloom.fpr must be between 0 and 1, got {self.bloom.fpr}")
        if self.bloom.score_window < self.bloom.stride:
            raise ConfigError(f"bloom.score_window must be >= bloom.stride ({self.bloom.stride}), got {self.bloom.score_window}")
        if self.build.workers < 1 or (self.build.tasks is not None and self.build.tasks < 1):
            raise ConfigError(f"build.workers and build.tasks must be >= 1, got {self.build.workers} and {self.build.tasks}")
        srv = self.server
        if min(srv.processes, srv.workers, srv.max_connections, srv.backlog) < 1 or srv.queue < 0 or not srv.read_timeout_s > 0:
            raise ConfigError("server.processes, server.workers, server.max_connections and server.backlog must be >= 1, server.queue >= 0 "
                             f"and server.read_timeout_s > 0; got {srv}")
        if self.exact.scan_cap < 2 or not 0.0 < self.exact.route_fpr < 1.0:
            raise ConfigError(f"exact.scan_cap must be >= 2 and exact.route_fpr between 0 and 1, got "
                              f"{self.exact.scan_cap} and {self.exact.route_fpr}")
        if self.exact.min_len < 2:
            raise ConfigError(f"exact.min_len must be >= 2 bytes, got {self.exact.min_len}")
