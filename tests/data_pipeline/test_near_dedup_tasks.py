"""Near dedup split across tasks: the same files removed for any number of pair tasks, equal to
the one-process finder, and a killed pair task redone alone."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document
from datatrove.io import get_datafolder

from data_pipeline.dedup.exact import ContentHashSignature, ExactDuplicateFinder
from data_pipeline.dedup.minhash import NEAR_DUPLICATES_FILE, MinHashSignature
from data_pipeline.dedup.near_clusters import NearDuplicateClusters
from data_pipeline.dedup.near_pairs import PAIRS_FOLDER, NearDuplicatePairs, pieces, task_buckets
from data_pipeline.dedup.single_task import NearDuplicateFinder
from data_pipeline.executor import run_pipeline
from tests.data_pipeline.conftest import STDLIB


def _variants(text: str, rng: random.Random) -> list[str]:
    """Near copies at various distances: renamed, lines dropped, lines appended."""
    lines = text.splitlines(keepends=True)
    out = []
    for cut in (0.02, 0.1, 0.2, 0.3):
        kept = [line for line in lines if rng.random() > cut]
        out.append("".join(kept) + f"\n# vendored copy {cut}\n")
    out.append(text.replace("self", "this"))
    return out


def _documents() -> list[Document]:
    """Real standard-library files, their near copies, exact copies and a second language."""
    rng = random.Random(7)
    sources = sorted((STDLIB / "json").glob("*.py")) + sorted((STDLIB / "email").glob("*.py"))[:12]
    docs = []
    for n, path in enumerate(sources):
        text = path.read_text()
        docs.append((text, "Python"))
        docs.extend((v, "Python") for v in _variants(text, rng))
        docs.append((text, "Python"))  # an exact copy: exact dedup's, near dedup leaves it alone
        if n % 3 == 0:
            docs.append((text, "Jupyter Script"))  # same text, other language: never a near duplicate
    rng.shuffle(docs)
    return [Document(text=t, id=f"repo{i % 7}/{i:04d}.py",
                     metadata={"lang": lang, "stars": rng.choice([0, 0, 3, 40]),
                               "updated": rng.choice(["", "2021-03-01T00:00:00Z", "2024-06-01T00:00:00Z"])})
            for i, (t, lang) in enumerate(docs)]


def _stage1(folder: Path, docs: list[Document], tasks: int = 3) -> None:
    dedup = get_datafolder(str(folder))
    for rank in range(tasks):
        shard = iter(docs[rank::tasks])
        steps = ContentHashSignature(dedup).run(shard, rank, tasks)
        list(MinHashSignature(dedup, batch_bytes=50_000).run(steps, rank, tasks))
    list(ExactDuplicateFinder(dedup).run(None))


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("near") / "dedup"
    _stage1(folder, _documents())
    return folder


def _split_run(folder: Path, tasks: int, logs: Path, batch_bytes: int = 48 * 40) -> bytes:
    (folder / NEAR_DUPLICATES_FILE).unlink(missing_ok=True)
    for path in (folder / PAIRS_FOLDER).glob("*"):
        path.unlink()
    run_pipeline([NearDuplicatePairs(str(folder), batch_bytes=batch_bytes)], tasks, 1, str(logs / "pairs"))
    run_pipeline([NearDuplicateClusters(str(folder))], 1, 1, str(logs / "clusters"))
    return (folder / NEAR_DUPLICATES_FILE).read_bytes()


def test_pair_tasks_give_the_single_task_result_for_any_task_count(signed: Path, tmp_path: Path):
    list(NearDuplicateFinder(str(signed), threshold=0.7).run(None))
    reference = (signed / NEAR_DUPLICATES_FILE).read_bytes()
    assert reference.count(b"\n") >= 20  # a real test: many clusters
    results = {n: _split_run(signed, n, tmp_path / f"n{n}") for n in (1, 2, 8)}
    assert results[1] == results[2] == results[8] == reference


def test_bands_only_split_equals_single_task(signed: Path, tmp_path: Path):
    list(NearDuplicateFinder(str(signed), threshold=None).run(None))
    reference = (signed / NEAR_DUPLICATES_FILE).read_bytes()
    (signed / NEAR_DUPLICATES_FILE).unlink()
    for path in (signed / PAIRS_FOLDER).glob("*"):
        path.unlink()
    run_pipeline([NearDuplicatePairs(str(signed), threshold=None)], 3, 1, str(tmp_path / "pairs"))
    run_pipeline([NearDuplicateClusters(str(signed))], 1, 1, str(tmp_path / "clusters"))
    assert (signed / NEAR_DUPLICATES_FILE).read_bytes() == reference


def test_exact_copies_and_other_languages_are_not_near_duplicates(signed: Path, tmp_path: Path):
    dead = {line.split(b'"')[3] for line in (signed / "duplicates.jsonl").read_bytes().splitlines()}
    removed = [line.split(b'"') for line in _split_run(signed, 2, tmp_path).splitlines()]
    assert dead and not dead & {r[3] for r in removed}  # exact copies are exact dedup's alone
    assert not dead & {r[7] for r in removed}  # and never kept for a cluster


def test_killed_pair_task_is_redone_alone(signed: Path, tmp_path: Path):
    logs = tmp_path / "logs"
    expected = _split_run(signed, 4, logs)
    outputs = sorted((signed / PAIRS_FOLDER).glob("*.u64"))
    assert len(outputs) == 4
    # task 2 killed mid-write: a partial output, no completion marker
    (logs / "pairs" / "completions" / "00002").unlink()
    outputs[2].write_bytes(outputs[2].read_bytes()[:8])
    before = {p.name: p.stat().st_mtime_ns for p in outputs}
    (signed / NEAR_DUPLICATES_FILE).unlink()
    run_pipeline([NearDuplicatePairs(str(signed), batch_bytes=48 * 40)], 4, 1, str(logs / "pairs"))
    after = {p.name: p.stat().st_mtime_ns for p in outputs}
    assert [name for name in before if before[name] != after[name]] == ["00002.u64"]
    run_pipeline([NearDuplicateClusters(str(signed))], 1, 1, str(logs / "clusters2"))
    assert (signed / NEAR_DUPLICATES_FILE).read_bytes() == expected


def test_pieces_cover_the_task_buckets_within_the_budget():
    rng = np.random.default_rng(0)
    counts = {b: rng.integers(0, 30, size=16) for b in range(5)}
    counts[2][7] = 500  # one prefix above the budget: a piece of its own, never split
    seen = []
    for rank in range(3):
        start, end = task_buckets(5, 16, rank, 3)
        covered = []
        for band, p0, p1 in pieces(counts.__getitem__, start, end, 16, max_entries=100):
            assert p1 > p0 and (counts[band][p0:p1].sum() <= 100 or p1 - p0 == 1)
            covered.extend(band * 16 + p for p in range(p0, p1))
        assert covered == list(range(start, end))
        seen.extend(covered)
    assert seen == list(range(5 * 16))


def test_slurm_dry_run_plans_the_pair_tasks(corpus: Path, tmp_path: Path, capsys):
    import re
    import subprocess

    from data_pipeline.cli import main

    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--output", str(out), "--dry-run", "--executor", "slurm",
                 "--set", "near_dedup.tasks=6", "--set", "near_dedup.batch_bytes=64000000"]) == 0
    plan = capsys.readouterr().out
    assert "stage 3 near_dedup_pairs: 6 task(s), after dedup_find" in plan
    assert "stage 4 near_dedup_clusters: 1 task(s), after near_dedup_pairs" in plan
    block = re.split(r"  sbatch script \(.*\):\n", plan)[3]
    script = "\n".join(line[4:] for line in block.splitlines() if line.startswith("    "))
    assert "#SBATCH --array=0-5" in script and "--dependency=afterok:<dedup_find job id>" in script
    (tmp_path / "pairs.sh").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "pairs.sh")]).returncode == 0
    assert not (out / "work").exists()  # nothing ran


def test_near_dedup_off_has_no_near_stages(corpus: Path, tmp_path: Path):
    from data_pipeline.curate import CurateConfig, curate

    plan = curate(CurateConfig(input=str(corpus), output=tmp_path / "o", dry_run=True, near_dedup=None))["plan"]
    assert "near_dedup_pairs" not in plan and "NearDuplicateClusters" not in plan
    assert "stage 3 dedup_filter" in plan


def test_checking_without_a_text_store_names_the_folder(tmp_path: Path):
    from starforge.errors import FormatError

    text = (STDLIB / "json" / "scanner.py").read_text()
    docs = [Document(text=text, id="a"), Document(text=text.replace("NUMBER_RE", "NUMBER_PATTERN") + "\n#", id="b")]
    list(MinHashSignature(str(tmp_path), store_texts=False).run(iter(docs)))
    with pytest.raises(FormatError, match="minhash/00000 has no text store"):
        list(NearDuplicatePairs(str(tmp_path), margin=1.0).run(None))  # every pair read back
    list(NearDuplicatePairs(str(tmp_path), threshold=None).run(None))  # bands only needs no texts
    list(NearDuplicateClusters(str(tmp_path)).run(None))
    assert (tmp_path / NEAR_DUPLICATES_FILE).read_text() == '{"id":"b","duplicate_of":"a"}\n'


def test_a_bucket_of_forty_copies_is_walked_lazily_with_the_same_result(tmp_path: Path):
    """More copies than SMALL_BUCKET share a band: the lazy walk, not all 780 pairs."""
    from data_pipeline.dedup.pair_verifier import SMALL_BUCKET

    rng = random.Random(3)
    base = (STDLIB / "json" / "decoder.py").read_text()
    texts = [base + f"\n# copy {i}\n" for i in range(40)] + _variants(base, rng)
    assert len(texts) > SMALL_BUCKET
    docs = [Document(text=t, id=f"r/{i:03d}.py", metadata={"lang": "Python", "stars": i % 4})
            for i, t in enumerate(texts)]
    _stage1(tmp_path / "dedup", docs, tasks=2)
    list(NearDuplicateFinder(str(tmp_path / "dedup"), threshold=0.7).run(None))
    reference = (tmp_path / "dedup" / NEAR_DUPLICATES_FILE).read_bytes()
    assert reference.count(b"\n") >= 40
    for n in (1, 3):
        assert _split_run(tmp_path / "dedup", n, tmp_path / f"n{n}") == reference
    import json

    stats = [s for p in (tmp_path / "n1" / "pairs" / "stats").glob("*.json") for s in json.loads(p.read_text())]
    checked = sum(s["stats"]["pairs_checked"]["total"] for s in stats if "pairs_checked" in s["stats"])
    assert 0 < checked <= 25 * len(texts)  # about one test per copy and band, not one per pair


def test_pair_stage_settings_are_checked():
    from data_pipeline.config import NearDedupConfig
    from starforge.errors import ConfigError

    for bad in ({"tasks": 0}, {"batch_bytes": 1000}, {"margin": 1.5}):
        with pytest.raises(ConfigError, match="near_dedup: need tasks >= 1"):
            NearDedupConfig(**bad)
