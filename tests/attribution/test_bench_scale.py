"""`python -m bench.attribution_scale` on two small corpora: it runs as a module and its last line
is the JSON object the issue asks for (the figures themselves are the bench's business)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from attribution_corpus import STDLIB

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scale_bench_prints_the_issue_keys_last(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    shutil.copytree(STDLIB / "json", small / "json")
    for name in ("json", "email", "http"):
        shutil.copytree(STDLIB / name, large / name)
    cmd = [sys.executable, "-m", "bench.attribution_scale", "--output", str(tmp_path / "b"), "--small-corpus", str(small),
           "--large-corpus", str(large), "--shard-mb", "0.5", "--scale-n", "20", "--server-queries", "8",
           "--server-clients", "2", "--no-fanout"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("attribution scale bench in") and len(lines) > 5  # progress, line by line
    result = json.loads(lines[-1])
    for key in ("corpus_mb", "exact_p95_ms", "check_p95_ms", "build_mb_s"):
        assert len(result[key]) == 2 and all(v > 0 for v in result[key]), key
    assert result["exact_p95_growth"] > 0 and result["index_bytes_per_byte"] > 1
    assert result["shards"][0] == 1 and result["shards"][1] >= 2
    assert result["recall_at_1"] == [1.0, 1.0]
    assert all(run["errors"] == 0 for procs in result["server"].values() for run in procs.values())
