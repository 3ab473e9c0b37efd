"""`python -m bench.dedup_scale --quick` runs end to end and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_scale_bench_finds_the_planted_clusters(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "bench.dedup_scale", "--quick", "--work", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert {"docs", "tasks", "peak_rss_mb", "per_task_growth", "recall", "precision",
            "single_task_extrapolated_gb_at_600M"} <= set(result)
    assert result["docs"] == [20_000, 80_000] and result["tasks"] == [1, 4]
    assert set(result["peak_rss_mb"]) == {"20000", "80000"} and set(result["peak_rss_mb"]["80000"]) == {"1", "4"}
    assert result["recall"] >= 0.99 and result["precision"] >= 0.99
    assert result["pair_stats"]["80000"]["4"]["by_exact_jaccard"] > 0  # decoys reached the text check
    assert result["single_task_extrapolated_gb_at_600M"] > 10
    assert not list(tmp_path.iterdir())  # its work folder is removed
