"""The spine end to end: `starforge demo` on a small real corpus, every stage once, as the recipe
of the stages' own command lines."""

import json
import shutil
import sysconfig
from pathlib import Path

import pytest

from starforge.config import load_config
from starforge.demo import DemoConfig, recipe, run_demo
from starforge.report import read_summary

STDLIB = Path(sysconfig.get_paths()["stdlib"])
LICENCE = STDLIB / "LICENSE.txt"


def make_corpus(root: Path) -> Path:
    """Three stdlib packages as three repositories, each with the PSF licence file."""
    for name in ("json", "email", "http"):
        shutil.copytree(STDLIB / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(LICENCE, root / name / "LICENSE")
    return root


def test_recipe_is_command_lines_each_reading_what_earlier_ones_wrote(tmp_path):
    """No step reaches into another's internals: every path it reads is under an earlier step's
    folder (or the corpus / a preset), and each step writes into its own folder."""
    cfg = DemoConfig(output=tmp_path / "demo", corpus=str(tmp_path / "corpus"))
    steps = recipe(cfg)
    assert [s.name for s in steps] == ["data", "tokenizer", "shards", "pretrain", "hf", "eval", "eval-canonical",
                                       "index", "attribution"]
    assert [s.argv[0] for s in steps] == ["data", "data", "data", "pretrain", "pretrain", "eval", "eval",
                                          "attribution", "attribution"]
    assert steps[-1].command_line().startswith("starforge attribution check-generations ")
    for i, step in enumerate(steps):
        paths = [a.split("=", 1)[-1].strip("[]{} ").removeprefix("path: ") for a in step.argv]
        for p in (Path(a) for a in paths if a.startswith(str(cfg.output))):
            owner = p.relative_to(cfg.output).parts[0]
            assert owner in [s.name for s in steps[: i + 1]], (step.name, p)


def test_every_command_line_parses_with_its_stages_own_parser(tmp_path):
    """Each step is what the stage's own command accepts: parsed by that command's builder into
    the config the demo means (no step runs)."""
    import importlib

    from starforge.commands import parse_command

    cfg = DemoConfig(output=tmp_path / "demo", corpus=str(tmp_path / "corpus"), limit=8,
                     pretrain_overrides=["train_steps=40"], eval_overrides=["n_samples=2"])
    stages = {"data": "data_pipeline.cli", "pretrain": "pretrain.cli", "eval": "eval.cli",
              "attribution": "attribution.cli"}
    parsed = {}
    for step in recipe(cfg):
        module = importlib.import_module(stages[step.argv[0]])
        commands = getattr(module, "COMMANDS", None) or [module.COMMAND]
        rest = list(step.argv[1:])
        command = next((c for c in commands if c.name and rest and c.name == rest[0]), None)
        if command is not None:
            rest = rest[1:]
        else:
            command = commands[0]
        prog = " ".join(["starforge", step.argv[0], *([command.name] if command.name else [])])
        parsed[step.name] = parse_command(prog, command, rest)[0]
    assert parsed["data"].output == cfg.output / "data" and parsed["data"].workers == 2
    assert parsed["tokenizer"].vocab_size == cfg.vocab_size
    assert str(parsed["pretrain"].tokenizer) == str(cfg.output / "tokenizer") and parsed["pretrain"].train_steps == 40
    assert parsed["eval"].n_samples == 2 and parsed["eval"].limit == 8 and parsed["eval"].allow_code_execution
    assert parsed["eval-canonical"].n_samples == 1 and parsed["eval-canonical"].check_references
    assert parsed["index"].exact.min_len == cfg.attribution_min_len
    assert parsed["attribution"].index == cfg.output / "index"


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_the_report(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "corpus")
    out = tmp_path / "demo"
    cfg = load_config(DemoConfig, None, [
        f"output={out}", f"corpus={corpus}", "vocab_size=1024",
        "pretrain_overrides=[train_steps=40, eval_interval=20, save_interval=20, log_interval=5]",
        "limit=8", "eval_overrides=[n_samples=2, max_length_generation=160]",
    ])
    summary = run_demo(cfg)
    printed = capsys.readouterr().out
    assert [line for line in printed.splitlines() if line.startswith("$ starforge ")] == [
        f"$ {s.command_line()}" for s in recipe(cfg)]  # each command shown before it ran

    data = read_summary(out, "data")
    assert data["totals"]["kept"] >= 30
    assert data["totals"]["files"] == data["totals"]["kept"] + data["totals"]["removed"]
    assert list((out / "shards").glob("*.idx"))

    pretrain = read_summary(out, "pretrain")
    assert pretrain["final_loss"] < pretrain["first_loss"]
    assert read_summary(out, "hf")["max_abs_diff"] < 1e-4
    assert json.loads((out / "hf" / "config.json").read_text())["multi_query"] is True

    generations = json.loads((out / "eval" / "generations_humaneval.json").read_text())
    assert len(generations) == 8 and all(len(g) == 2 for g in generations)
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert 0.0 <= metrics["humaneval"]["pass@1"] <= 1.0

    assert read_summary(out, "attribution")["generations_checked"] == 16
    report = (out / "report.md").read_text()
    for needle in ("data/funnel.png", "pretrain/loss.png", "pass_at_k.png", "pass@1", "canonical solutions: 8/8",
                   "Attribution", "starforge attribution check-generations"):
        assert needle in report
    for picture in ("data/funnel.png", "pretrain/loss.png", "pass_at_k.png"):
        assert (out / picture).stat().st_size > 5000
    assert [s["step"] for s in summary["steps"]] == [s.name for s in recipe(cfg)]

    # A second run resumes: every step is already done, no command runs again.
    again = run_demo(cfg)
    assert "$ starforge" not in capsys.readouterr().out
    assert again["steps"] == summary["steps"]


def test_demo_leaves_a_folder_it_did_not_make_alone(tmp_path):
    from starforge.errors import StarforgeError

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    for fresh in (False, True):
        with pytest.raises(StarforgeError, match="mine") as info:
            run_demo(DemoConfig(output=out, fresh=fresh))
        assert "\n" not in str(info.value)
    assert (out / "notes.txt").read_text() == "keep me" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
