"""`python -m bench.pii` runs end to end on a small labelled set and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"baseline_f1", "baseline_findings_per_mb", "baseline_fp_per_mb", "baseline_fp_per_mb_by_class",
        "baseline_mb_s_per_core", "baseline_precision", "baseline_preexisting", "baseline_recall", "clean_mb", "f1",
        "files_fingerprint", "findings_per_mb", "fp_per_mb", "fp_per_mb_by_class", "labelled_mb", "mb_s_per_core",
        "planted", "precision", "preexisting", "recall", "seed", "untouched_unreviewed_files", "username_f1", "wall_s"}


@pytest.mark.slow
def test_benchmark_prints_named_keys_last():
    out = subprocess.run([sys.executable, "-m", "bench.pii", "--labelled-mb", "0.3", "--clean-mb", "0.3"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) == KEYS  # the keys other tools read: unchanged by the split into bench/pii/
    for key in ("f1", "baseline_f1"):
        assert set(result[key]) == {"email", "ip_address", "key", "password"}
    for key in ("fp_per_mb", "mb_s_per_core", "baseline_mb_s_per_core"):
        assert result[key] >= 0
    assert result["f1"]["email"] > 0.9
    # pre-existing PII of the untouched files, scored against bench/pii/labels.json
    assert set(result["preexisting"]) >= {"labelled", "found", "missed"}
    assert result["fp_per_mb"] <= result["findings_per_mb"]
