"""The one CLI builder (starforge/commands.py): flags from the dataclass, the priority of
defaults, --config, flags and --set, presets by name and for their own command, one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from starforge.commands import Command, extend, narrow, parse_command, run_commands
from starforge.config import field_docs
from starforge.errors import ConfigError


@dataclass
class Section:
    rate: float = 0.5
    """A nested key: reached by --set only."""


@dataclass
class Toy:
    output: Path | None = None
    """Folder to write."""
    steps: int = 10
    """Training steps."""
    label: str = "x"
    verbose: bool = False
    """A switch."""
    sample: bool = True
    """A true default takes an optional value."""
    tags: list[str] | None = None
    section: Section = field(default_factory=Section)


TOY = Command("toy", Toy, lambda cfg: 0, "a toy command", required=("output",))


def parse(*argv: str, command: Command = TOY) -> Toy:
    return parse_command("starforge stage toy", command, list(argv))[0]


def test_flags_come_from_the_fields_with_both_spellings():
    cfg = parse("--output", "o", "--steps", "3", "--verbose", "--sample", "false", "--tags", "a,b")
    assert (cfg.output, cfg.steps, cfg.verbose, cfg.sample, cfg.tags) == (Path("o"), 3, True, False, ["a", "b"])
    assert parse("--output", "o", "--label", "null").label == "null"  # a string flag stays a string
    assert parse("--output=o", "--tags", "[c, d]").tags == ["c", "d"]
    assert parse("--output", "o", "--sample").sample is True


def test_priority_defaults_config_flags_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("output: from-file\nsteps: 5\nlabel: file\nsection:\n  rate: 0.1\n")
    cfg = parse("--config", str(path), "--steps", "6", "--set", "steps=7", "--label", "flag")
    assert (str(cfg.output), cfg.steps, cfg.label, cfg.section.rate) == ("from-file", 7, "flag", 0.1)
    last = Command("toy", Toy, lambda cfg: 0, "", flags_last=True)  # eval's documented order
    assert parse("--config", str(path), "--steps", "6", "--set", "steps=7", command=last).steps == 6


def test_mistakes_are_config_errors_naming_the_key():
    with pytest.raises(ConfigError, match="--output is required"):
        parse("--steps", "3")
    with pytest.raises(ConfigError, match="'steps' must be an integer, got 'many'"):
        parse("--output", "o", "--steps", "many")
    with pytest.raises(ConfigError, match=r"unrecognized arguments: --stepz"):
        parse("--output", "o", "--stepz", "3")
    with pytest.raises(ConfigError, match="unknown key 'section.rat'; did you mean 'section.rate'"):
        parse("--output", "o", "--set", "section.rat=1")
    with pytest.raises(ConfigError, match="unknown command 'tyo'; choose one of: toy"):
        run_commands("starforge stage", [TOY, Command("other", Toy, lambda c: 0, "")], ["tyo"])


def test_help_is_the_field_docstring(capsys):
    with pytest.raises(SystemExit):
        parse("--help")
    out = capsys.readouterr().out
    assert "--steps N" in out and "Training steps. (default: 10)" in out and "--section" not in out


def test_a_preset_for_another_command_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("command: stage other\nsteps: 2\n")
    with pytest.raises(ConfigError, match="configures `starforge stage other`, not `starforge stage toy`"):
        parse("--config", str(path), "--output", "o")
    path.write_text("command: [stage other, stage toy]\nsteps: 2\n")
    assert parse("--config", str(path), "--output", "o").steps == 2
    path.write_text("command: stage\nsteps: 3\n")  # a stage name covers its commands
    assert parse("--config", str(path), "--output", "o").steps == 3


def test_shipped_presets_are_found_by_name_and_checked(capsys):
    from starforge.cli import main

    assert main(["data", "tokenize", "--config", "data/curate-stdlib", "--input", "k", "--tokenizer", "t",
                 "--output", "o"]) == 2
    err = capsys.readouterr().err
    assert "configures `starforge data curate`, not `starforge data tokenize`" in err and err.count("\n") == 1


def test_extend_adds_paths_with_their_docs_and_narrow_takes_them_off():
    cls = extend(Toy, "ToyCommand", [("model", Path | None, None, "base model folder")])
    assert field_docs(cls)["model"] == "base model folder" and field_docs(cls)["steps"] == "Training steps."
    cfg = parse("--output", "o", "--model", "m", command=Command("toy", cls, lambda c: 0, ""))
    assert cfg.model == Path("m") and narrow(cfg, Toy) == Toy(output=Path("o"))


def test_every_command_has_a_help(capsys):
    from starforge.cli import main
    from tests.test_every_command import every_command

    for words in every_command():
        words = [w for w in words if w != "x"]
        with pytest.raises(SystemExit) as exit_:
            main([*words, "--help"])
        assert exit_.value.code == 0, words
        assert "--config" in capsys.readouterr().out, words
