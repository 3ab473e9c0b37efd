"""The one config mechanism: dataclass schema, YAML presets, --set overrides, clear errors."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from starforge.config import describe, field_docs, load_config, save_config
from starforge.errors import ConfigError


@dataclass
class Optim:
    lr: float = 3e-4
    """Peak learning rate."""
    warmup_steps: int = 10
    """Linear warmup before the cosine decay."""


@dataclass
class Run:
    name: str = "run"
    steps: int = 100
    output: Path = Path("runs/x")
    fim_rate: float | None = None
    tags: list[str] = field(default_factory=list)
    optim: Optim = field(default_factory=Optim)


def test_defaults_when_no_file_or_overrides():
    cfg = load_config(Run)
    assert cfg == Run()


def test_yaml_then_overrides_in_priority_order(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("steps: 5\noptim:\n  lr: 0.1\n  warmup_steps: 2\n")
    cfg = load_config(Run, path, ["optim.lr=1e-3", "fim_rate=0.5", "tags=[a, b]", "output=/tmp/o"])
    assert cfg.steps == 5
    assert cfg.optim.lr == pytest.approx(1e-3)
    assert cfg.optim.warmup_steps == 2
    assert cfg.fim_rate == 0.5
    assert cfg.tags == ["a", "b"]
    assert cfg.output == Path("/tmp/o")


def test_unknown_key_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'optim.lrr'; did you mean 'optim.lr'"):
        load_config(Run, None, ["optim.lrr=1"])


def test_unknown_key_in_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stepz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'stepz'; did you mean 'steps'"):
        load_config(Run, path)


def test_wrong_type_is_an_error_not_a_silent_cast():
    with pytest.raises(ConfigError, match=r"'steps' must be an integer, got 'many'"):
        load_config(Run, None, ["steps=many"])
    with pytest.raises(ConfigError, match=r"'steps' must be an integer"):
        load_config(Run, None, ["steps=1.5"])


def test_none_means_off():
    cfg = load_config(Run, None, ["fim_rate=null"])
    assert cfg.fim_rate is None


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Run, tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("steps: [1,\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+: not valid YAML"):
        load_config(Run, bad)
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(Run, None, ["steps"])


def test_saved_config_loads_back_identically(tmp_path):
    cfg = load_config(Run, None, ["optim.lr=0.25", "tags=[x]"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(Run, tmp_path / "config.yaml") == cfg


def test_attribute_docstrings_feed_help():
    assert field_docs(Optim) == {"lr": "Peak learning rate.", "warmup_steps": "Linear warmup before the cosine decay."}
    lines = describe(Run)
    assert "optim.lr = 0.0003  # Peak learning rate." in lines
