"""Run folders and the output rule (issue #18 section 2): the commands that used to delete or
overwrite what they did not make (through `starforge.cli.main`, as the console script runs it),
and `starforge.run_dir` directly."""

from __future__ import annotations

import gzip
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from starforge.cli import main
from starforge.errors import ConfigError, DataError
from starforge.run_dir import MARKER, claim_outputs, made_by_command, prepare, release, write_summary

STDLIB = Path(textwrap.__file__).parent


@dataclass
class Ran:
    returncode: int
    stderr: str


@pytest.fixture
def starforge(capsys):
    def run(*args: str) -> Ran:
        code = main(list(args))
        return Ran(code, capsys.readouterr().err)
    return run


def refused(proc: Ran, *words: str) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_kept(folder: Path) -> Path:
    folder.mkdir(parents=True)
    with gzip.open(folder / "00000.jsonl.gz", "wt", encoding="utf-8") as fh:
        for name in ("textwrap.py", "heapq.py", "bisect.py"):
            text = (STDLIB / name).read_text(encoding="utf-8")
            fh.write(json.dumps({"text": text, "id": f"py/{name}", "metadata": {"repo": "py", "path": name}}) + "\n")
    return folder


# --- the commands #18 section 2 names ---------------------------------------------------------

def test_export_refuses_a_folder_it_did_not_make_and_deletes_nothing(tmp_path, starforge):
    ckpt = tmp_path / "run" / "checkpoints"
    (ckpt / "iter_0000001").mkdir(parents=True)
    (ckpt / "latest").write_text("1")
    out = tmp_path / "hf"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    refused(starforge("pretrain", "export", "--checkpoint", str(ckpt), "--output", str(out)),
            "--output", "not empty", "--overwrite")
    assert snapshot(out) == {"notes.txt": b"mine"}


def test_export_into_the_checkpoints_parent_is_refused(tmp_path, starforge):
    run = tmp_path / "run"
    ckpt = run / "checkpoints"
    (ckpt / "iter_0000001").mkdir(parents=True)
    (ckpt / "latest").write_text("1")
    before = snapshot(run)
    for out in (run, ckpt, tmp_path):
        refused(starforge("pretrain", "export", "--checkpoint", str(ckpt), "--output", str(out), "--overwrite"),
                "--checkpoint")
    assert snapshot(run) == before


def test_train_tokenizer_never_deletes_its_input_or_foreign_files(tmp_path, starforge):
    kept = write_kept(tmp_path / "data" / "kept")
    before = snapshot(tmp_path / "data")
    for out in (kept, tmp_path / "data"):  # the input itself, and the folder holding it
        refused(starforge("data", "train-tokenizer", "--input", str(kept), "--output", str(out), "--overwrite"),
                "--input")
    assert snapshot(tmp_path / "data") == before
    tok = tmp_path / "tok"
    tok.mkdir()
    (tok / "README.md").write_text("someone's notes")
    refused(starforge("data", "train-tokenizer", "--input", str(kept), "--output", str(tok), "--vocab-size", "300"),
            "--overwrite")
    proc = starforge("data", "train-tokenizer", "--input", str(kept), "--output", str(tok), "--vocab-size", "300",
                     "--overwrite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tok / "README.md").read_text() == "someone's notes"  # replaced only its own files
    assert (tok / "tokenizer.json").is_file() and made_by_command(tok) == "data train-tokenizer"
    summary = json.loads((tok / "summary.json").read_text())
    assert summary["stage"] == "data" and summary["command"] == "data train-tokenizer"
    assert summary["docs"] == 3 and summary["outputs"] == {"tokenizer": str(tok)}
    # a re-run into its own folder needs no --overwrite
    proc = starforge("data", "train-tokenizer", "--input", str(kept), "--output", str(tok), "--vocab-size", "300")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_tapes_to_sft_onto_its_own_tape_is_refused(tmp_path, starforge):
    tape = tmp_path / "tape.jsonl"
    tape.write_text('{"type": "header"}\n')
    refused(starforge("finetune", "tapes-to-sft", str(tape), "--output", str(tape), "--decontaminate", ""),
            "--output", "TAPES")
    assert tape.read_text() == '{"type": "header"}\n'


def test_eval_metrics_onto_the_generations_is_refused(tmp_path, starforge):
    gens = tmp_path / "generations_humaneval.json"
    gens.write_text('[["def f(): pass"]]')
    refused(starforge("eval", "--tasks", "humaneval", "--allow_code_execution", "--load_generations_path", str(gens),
                      "--metric_output_path", str(gens)), "--metric_output_path", "--load_generations_path")
    assert gens.read_text() == '[["def f(): pass"]]'


def test_sft_output_onto_the_base_model_is_refused(tmp_path, starforge):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "def f():", "solution": "\\n    return 1\\n"}\n')
    for out in (model, model / "sft"):
        refused(starforge("finetune", "sft", "--model", str(model), "--data", str(data), "--output", str(out),
                          "--overwrite"), "--model")
    assert snapshot(model) == {"config.json": b"{}"}


def test_continued_pretraining_never_writes_into_the_checkpoint_it_starts_from(tmp_path, starforge):
    ckpt = tmp_path / "base" / "checkpoints"
    (ckpt / "iter_0000010").mkdir(parents=True)
    (ckpt / "latest").write_text("10")
    before = snapshot(tmp_path / "base")
    refused(starforge("finetune", "continue", "--from", str(ckpt), "--config", "runs/pretrain-tiny",
                      "--set", f"out_dir={tmp_path / 'base'}", "--overwrite"), "--init-from")
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("x")
    refused(starforge("pretrain", "train", "--config", "runs/pretrain-tiny", "--out-dir", str(foreign)),
            "--overwrite")
    assert snapshot(tmp_path / "base") == before and snapshot(foreign) == {"todo.txt": b"x"}


def test_symlinked_output_is_resolved(tmp_path, starforge):
    gens = tmp_path / "g.json"
    gens.write_text('[["x"]]')
    link = tmp_path / "metrics.json"
    link.symlink_to(gens)
    refused(starforge("eval", "--allow_code_execution", "--load_generations_path", str(gens),
                      "--metric_output_path", str(link)), "--metric_output_path")
    assert gens.read_text() == '[["x"]]'


# --- starforge.run_dir ----------------------------------------------------------------------

@dataclass
class Section:
    rate: float = 0.5


@dataclass
class Cfg:
    input: str = "in"
    workers: int = 2
    section: Section = field(default_factory=Section)


def test_prepare_stores_the_config_and_refuses_a_changed_one_naming_the_key(tmp_path):
    out = prepare(tmp_path / "run", Cfg(), command="data curate", neutral=("workers",))
    assert (out / "config.yaml").is_file() and made_by_command(out) == "data curate"
    prepare(out, Cfg(workers=8), command="data curate", neutral=("workers",))  # neutral: resumes
    with pytest.raises(DataError, match=r"different config \(section.rate: 0.5 -> 0.7 changed\).*start over"):
        prepare(out, Cfg(section=Section(rate=0.7)), command="data curate", neutral=("workers",))


def test_a_folder_made_by_another_command_is_refused(tmp_path):
    prepare(tmp_path / "run", Cfg(), command="data tokenize")
    with pytest.raises(ConfigError, match=r"made by `starforge data tokenize`, not `starforge data curate`.*--overwrite"):
        prepare(tmp_path / "run", Cfg(), command="data curate")


def test_empty_folder_is_claimed_and_released_when_nothing_was_written(tmp_path):
    out = tmp_path / "new"
    assert claim_outputs("x y", {"--output": out}, {}) == [out]
    assert (out / MARKER).read_text() == "x y\n"
    release(out)
    assert not out.exists()
    existing = tmp_path / "empty"
    existing.mkdir()
    assert claim_outputs("x y", {"--output": existing}, {}) == []


def test_output_that_is_a_file_or_a_file_that_is_a_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        claim_outputs("data curate", {"--output": tmp_path / "f"}, {})
    with pytest.raises(ConfigError, match="is a folder; give the path of a file"):
        claim_outputs("eval", {}, {}, files={"--metric_output_path": tmp_path})


def test_write_summary_schema(tmp_path):
    summary = write_summary(tmp_path, "pii", {"files": 3, "redacted": 1}, {"output": tmp_path / "o"},
                            command="pii redact", wall_s=0.5)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary == {
        "stage": "pii", "command": "pii redact", "files": 3, "redacted": 1, "wall_s": 0.5,
        "outputs": {"output": str(tmp_path / "o")}}
