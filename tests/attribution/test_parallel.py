"""Shards built as datatrove tasks: locally in parallel, or as a Slurm job written and run by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from attribution_corpus import STDLIB, function_lines, lines_of, write_kept

from attribution import Attributor, build_index
from attribution.config import AttributionConfig, BuildConfig, SlurmConfig

MODULES = ("textwrap.py", "heapq.py", "bisect.py")


def _shards(root: Path, n: int = 3) -> Path:
    for i, name in enumerate(MODULES[:n]):
        write_kept(root / "data" / "kept" / f"{i:05d}.jsonl.gz", [(f"py/{name[:-3]}", name, STDLIB / name)])
    return root / "data"


def _markers(idx: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (idx / "shards").glob("*/shard.json")}


def test_shards_built_by_parallel_local_tasks(tmp_path):
    # (Adding a shard builds only that one: test_index.py, the same code path.)
    cfg = AttributionConfig(input=_shards(tmp_path), output=tmp_path / "idx", build=BuildConfig(workers=2))
    result = build_index(cfg)
    assert result["built"] == ["00000", "00001", "00002"]
    # datatrove ran one task per shard, in worker processes.
    stats = sorted(p.name for p in (tmp_path / "idx" / "logs" / "build" / "stats").glob("*.json"))
    assert stats == ["00000.json", "00001.json", "00002.json"]
    start, end = function_lines(STDLIB / "heapq.py", "merge")
    with Attributor(tmp_path / "idx") as att:
        top = att.check(lines_of(STDLIB / "heapq.py", start, end))["exact"][0]
    assert (top["repo"], top["start_line"], top["end_line"]) == ("py/heapq", start, end)


def test_fewer_tasks_than_shards_each_build_several(tmp_path):
    cfg = AttributionConfig(input=_shards(tmp_path), output=tmp_path / "idx", build=BuildConfig(tasks=2))
    result = build_index(cfg)
    assert result["built"] == ["00000", "00001", "00002"] and result["totals"]["docs"] == 3
    stats = {p.name: json.loads(p.read_text()) for p in (tmp_path / "idx" / "logs" / "build" / "stats").glob("*.json")}
    assert sorted(stats) == ["00000.json", "00001.json"]
    built = [step["stats"]["shards_built"] for task in stats.values() for step in task]
    assert sorted(built) == [1, 2]  # task 0 builds shards 0 and 2, task 1 shard 1


def test_slurm_dry_run_writes_a_job_that_runs_and_submits_nothing(tmp_path):
    data = _shards(tmp_path, 2)
    idx = tmp_path / "idx"
    slurm = SlurmConfig(partition="cpu-long", cpus_per_task=2, sbatch_args={"account": "bigcode"})
    cfg = AttributionConfig(input=data, output=idx,
                            build=BuildConfig(executor="slurm", dry_run=True, slurm=slurm))
    result = build_index(cfg)
    assert result["pending"] == ["00000", "00001"] and result["slurm"]["tasks"] == 2
    script = Path(result["slurm"]["script"])
    text = script.read_text()
    for line in ("#SBATCH --array=0-1", "#SBATCH --partition=cpu-long", "#SBATCH --cpus-per-task=2",
                 "#SBATCH --account=bigcode", "#SBATCH --job-name=starforge_attribution_index"):
        assert line in text.splitlines(), line
    assert f"launch_pickled_pipeline {idx.resolve() / 'slurm' / 'executor.pik'}" in text
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert not (idx / "manifest.json").exists() and _markers(idx) == {}  # nothing built, nothing submitted
    # Array element 1, as Slurm runs it (srun aside): builds shard 00001 only.
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "1"}
    launcher = Path(sys.executable).with_name("launch_pickled_pipeline")
    proc = subprocess.run([str(launcher), str(idx / "slurm" / "executor.pik")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(_markers(idx)) == ["00001"]
    # Rerunning the command locally builds what the array has not and writes the manifest.
    cfg.build = BuildConfig()
    done = build_index(cfg)
    assert done["built"] == ["00000"] and done["skipped"] == ["00001"]
    assert [s["name"] for s in json.loads((idx / "manifest.json").read_text())["shards"]] == ["00000", "00001"]


@pytest.mark.slow
def test_rerun_after_slurm_built_everything_writes_the_manifest(tmp_path):
    data = _shards(tmp_path)
    idx = tmp_path / "idx"
    build_index(AttributionConfig(input=data, output=idx, build=BuildConfig(executor="slurm", dry_run=True)))
    env = {**os.environ}
    launcher = Path(sys.executable).with_name("launch_pickled_pipeline")
    for task in range(3):
        env["SLURM_ARRAY_TASK_ID"] = str(task)
        subprocess.run([str(launcher), str(idx / "slurm" / "executor.pik")], env=env, check=True,
                       capture_output=True, timeout=120)
    result = build_index(AttributionConfig(input=data, output=idx))
    assert result["built"] == [] and result["totals"]["docs"] == 3
