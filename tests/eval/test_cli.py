"""`starforge eval` end to end: harness flags, harness files, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.cli import parse_config
from eval.config import EvalConfig
from eval.evaluate import evaluate
from starforge.cli import main as starforge_main
from starforge.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "eval").glob("*.yaml"))


@pytest.fixture()
def generations_file(tmp_path, humaneval):
    """A harness-format file: canonical solution then a wrong one, for the first 20 problems."""
    gens = [[humaneval.canonical_generation(p), humaneval.prompt(p) + "\n    return None\n"]
            for p in humaneval.problems()[:20]]
    path = tmp_path / "generations_humaneval.json"
    path.write_text(json.dumps(gens))
    return path


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_eval_preset_loads(path):
    cfg = load_config(EvalConfig, path)
    assert cfg.tasks


def test_harness_flags_parse_with_harness_meaning():
    cfg = parse_config(["--model", "m", "--tasks", "humaneval", "--n_samples", "5", "--do_sample", "False",
                        "--limit", "3", "--allow_code_execution", "--prefix", "<| file ext=.py |>\n",
                        "--set", "sandbox.timeout=5"])
    assert (cfg.model, cfg.n_samples, cfg.do_sample, cfg.limit, cfg.allow_code_execution) == ("m", 5, False, 3, True)
    assert cfg.prefix == "<| file ext=.py |>\n" and cfg.sandbox.timeout == 5.0
    assert parse_config(["--do_sample"]).do_sample is True


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--help"])
    out = capsys.readouterr().out
    assert all(f"--{flag}" in out for flag in ("check_references", "save_references", "perplexity_stride",
                                               "load_data_path", "allow_code_execution"))


def test_flags_override_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("n_samples: 4\nbatch_size: 2\n")
    cfg = parse_config(["--config", str(path), "--n_samples", "6"])
    assert (cfg.n_samples, cfg.batch_size) == (6, 2)


def test_scores_a_harness_generations_file(tmp_path, generations_file, capsys):
    metrics = tmp_path / "out" / "metrics.json"
    rc = starforge_main(["eval", "--tasks", "humaneval", "--n_samples", "2", "--allow_code_execution",
                         "--limit", "20", "--load_generations_path", str(generations_file),
                         "--metric_output_path", str(metrics)])
    assert rc == 0
    data = json.loads(metrics.read_text())
    assert data["humaneval"] == {"pass@1": 0.5}
    assert data["config"]["n_samples"] == 2 and data["config"]["tasks"] == "humaneval"
    rows = [json.loads(line) for line in (tmp_path / "out" / "metrics_humaneval_problems.jsonl").open()]
    assert len(rows) == 20 and rows[0]["task_id"] == "HumanEval/0"
    assert [s["passed"] for s in rows[0]["samples"]] == [True, False]
    assert rows[0]["samples"][0]["result"] == "passed" and rows[0]["samples"][1]["result"].startswith("failed")
    out = capsys.readouterr().out
    assert "pass@1 0.5000" in out and str(metrics) in out


def test_n_samples_cuts_loaded_generations(tmp_path, generations_file):
    cfg = EvalConfig(tasks="humaneval", n_samples=1, limit=20, allow_code_execution=True,
                     load_generations_path=str(generations_file), metric_output_path=str(tmp_path / "m.json"))
    assert evaluate(cfg)["metrics"]["humaneval"] == {"pass@1": 1.0}


def test_generate_save_load_round_trip(tmp_path, tiny_model_dir):
    common = dict(model=str(tiny_model_dir), tasks="humaneval", n_samples=2, batch_size=2, limit=3,
                  max_length_generation=300, temperature=0.8, seed=3, device="cpu")
    gen_path = tmp_path / "gens.json"
    out = evaluate(EvalConfig(**common, generation_only=True, save_generations_path=str(gen_path)))
    saved = Path(out["paths"]["generations_humaneval"])
    assert saved == tmp_path / "gens_humaneval.json"  # the harness appends the task name
    gens = json.loads(saved.read_text())
    assert len(gens) == 3 and all(len(g) == 2 and all(isinstance(s, str) for s in g) for g in gens)
    assert "metrics" not in out["paths"]
    # generating again with the same seed and scoring gives the same file; scoring the file agrees
    metrics_a = tmp_path / "a.json"
    scored = evaluate(EvalConfig(**common, allow_code_execution=True, save_generations=True,
                                 save_generations_path=str(tmp_path / "again.json"),
                                 metric_output_path=str(metrics_a)))
    assert json.loads((tmp_path / "again_humaneval.json").read_text()) == gens
    loaded = evaluate(EvalConfig(tasks="humaneval", n_samples=2, limit=3, allow_code_execution=True,
                                 load_generations_path=str(saved), metric_output_path=str(tmp_path / "b.json")))
    assert loaded["metrics"] == scored["metrics"] == {"humaneval": {"pass@1": 0.0}}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"a": 1}', "expected a non-empty JSON list"),
    ('[["ok"], [1]]', "item 1 is not a list of strings"),
])
def test_bad_generations_file_is_one_line_error(tmp_path, capsys, content, message):
    path = tmp_path / "g.json"
    path.write_text(content)
    rc = starforge_main(["eval", "--allow_code_execution", "--load_generations_path", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["--load_generations_path", "/nonexistent/g.json", "--allow_code_execution"], "no such file"),
    (["--model", "/nonexistent/model", "--allow_code_execution"], "no such directory"),
    (["--allow_code_execution"], "--model is required"),
    (["--load_generations_path", "x.json"], "--allow_code_execution"),
    (["--tasks", "nope", "--allow_code_execution"], "unknown task 'nope'"),
    (["--set", "sandbox.isolation=docker"], "sandbox.isolation must be one of"),
])
def test_user_mistakes_are_one_line_errors(capsys, argv, message):
    rc = starforge_main(["eval", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_generate_and_score_164_problems_end_to_end(tmp_path, tiny_model_dir):
    out = evaluate(EvalConfig(model=str(tiny_model_dir), tasks="humaneval", n_samples=2, batch_size=2,
                              prompt_batch_size=16, max_length_generation=256, temperature=0.8, device="cpu", allow_code_execution=True,
                              save_generations=True, save_generations_path=str(tmp_path / "g.json"),
                              metric_output_path=str(tmp_path / "m.json")))
    assert out["stats"]["humaneval"]["samples"] == 328
    assert set(out["metrics"]["humaneval"]) == {"pass@1"}
    assert len(json.loads(Path(out["paths"]["generations_humaneval"]).read_text())) == 164
