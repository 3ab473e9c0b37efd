"""--dry-run plans, and the Slurm and Ray job definitions curate generates."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from data_pipeline.cli import main
from data_pipeline.curate import CurateConfig, curate


def test_dry_run_prints_the_plan_and_runs_nothing(corpus: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--output", str(out), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "stage 1 filter: 2 task(s)" in plan and "stage 2 dedup_find: 1 task(s), after filter" in plan
    steps = re.findall(r"  - \w+: (.+)", plan)
    assert steps[:11] == ["repositories", "unreadable", "too_large", "binary", "invalid_utf8", "empty", "token count",
                          "language", "licence", "jupyter", "token count"]
    assert steps[-5:] == ["near_dedup", "decontamination", "🔒 PII redaction", "metadata prefix", "🐿 Jsonl"]
    assert not out.exists()


def test_switched_off_steps_leave_the_plan(corpus: Path, tmp_path: Path):
    plan = curate(CurateConfig(input=str(corpus), output=tmp_path / "o", dry_run=True, near_dedup=None, pii=None,
                               decontamination=None))["plan"]
    assert "MinHashSignature" not in plan and "PiiRedactionStep" not in plan and "Decontamination" not in plan


def _slurm_plan(corpus: Path, out: Path) -> str:
    cfg = CurateConfig(input=str(corpus), output=out, executor="slurm", dry_run=True, tasks=4)
    cfg.slurm.partition, cfg.slurm.sbatch_args = "cpu-long", {"account": "bigcode"}
    return curate(cfg)["plan"]


def test_slurm_dry_run_sbatch_scripts_are_valid(corpus: Path, tmp_path: Path):
    plan = _slurm_plan(corpus, tmp_path / "out")
    scripts = re.split(r"  sbatch script \(.*\):\n", plan)[1:]
    assert len(scripts) == 5  # filter, dedup_find, near_dedup_pairs, near_dedup_clusters, dedup_filter
    for i, block in enumerate(scripts):
        script = "\n".join(line[4:] for line in block.splitlines() if line.startswith("    "))
        assert script.startswith("#!/bin/bash")
        assert "#SBATCH --partition=cpu-long" in script and "#SBATCH --account=bigcode" in script
        assert f"#SBATCH --array=0-{[3, 0, 3, 0, 3][i]}" in script
        assert "launch_pickled_pipeline" in script
        assert ("--dependency=afterok" in script) == (i > 0)
        path = tmp_path / f"stage{i}.sh"
        path.write_text(script)
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0  # shell syntax


def test_slurm_submission_chains_stages(corpus: Path, tmp_path: Path, monkeypatch):
    """A stand-in `sbatch` on PATH records what datatrove submits."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "sbatch.log"
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f"""#!/bin/bash
n=$(( $(cat {log} 2>/dev/null | wc -l) + 101 ))
name=$(grep -m1 -o 'job-name=[^ ]*' "${{@: -1}}")
echo "$n $name $*" >> {log}
bash -n "${{@: -1}}" || exit 1
echo "Submitted batch job $n"
""")
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cfg = CurateConfig(input=str(corpus), output=tmp_path / "out", executor="slurm", tasks=2)
    assert curate(cfg) == {"submitted": True}
    jobs = {}
    for line in log.read_text().splitlines():
        job_id, name, *args = line.split()
        jobs.setdefault(name.removeprefix("job-name="), (job_id, " ".join(args)))  # later: its merge-stats job
    chain = ["starforge_filter", "starforge_dedup_find", "starforge_near_dedup_pairs", "starforge_near_dedup_clusters",
             "starforge_dedup_filter"]
    assert set(chain) <= set(jobs)
    assert "--dependency" not in jobs["starforge_filter"][1]
    for before, after in zip(chain, chain[1:]):
        assert f"--dependency=afterok:{jobs[before][0]}" in jobs[after][1]
    assert (tmp_path / "out" / "logs" / "filter" / "executor.pik").is_file()
    assert (tmp_path / "out" / "logs" / "dedup_filter" / "launch_script.slurm").is_file()


def test_ray_executor_chains_the_stages(corpus: Path, tmp_path: Path):
    pytest.importorskip("ray")
    from data_pipeline import pipelines
    from data_pipeline.executor import build_executors

    cfg = CurateConfig(input=str(corpus), output=tmp_path / "out", executor="ray", tasks=2)
    out = tmp_path / "out"
    cfg.near_dedup.tasks = 8
    executors = build_executors(cfg, out, pipelines.stage_pipelines(cfg, out))
    assert list(executors) == list(pipelines.STAGES)
    for before, after in zip(pipelines.STAGES, pipelines.STAGES[1:]):
        assert executors[after].depends is executors[before]
    assert [executors[s].tasks for s in pipelines.STAGES] == [2, 1, 8, 1, 2]


def _tree(folder: Path) -> dict[str, bytes]:
    import gzip

    return {str(p.relative_to(folder)): gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            for p in sorted(folder.rglob("*.jsonl*"))}


@pytest.mark.slow
def test_ray_executor_runs_the_chain_like_local(corpus: Path, tmp_path: Path):
    """A real local Ray cluster runs the three stages; kept/ and removed/ equal a local run's."""
    ray = pytest.importorskip("ray")
    local = curate(CurateConfig(input=str(corpus), output=tmp_path / "local", tasks=2, workers=1))
    try:
        on_ray = curate(CurateConfig(input=str(corpus), output=tmp_path / "ray", tasks=2, workers=2,
                                     executor="ray"))
    finally:
        ray.shutdown()
    assert on_ray["totals"] == local["totals"] and local["totals"]["kept"] > 0
    for part in ("kept", "removed"):
        ours, theirs = _tree(tmp_path / "ray" / part), _tree(tmp_path / "local" / part)
        assert ours and ours == theirs, part
