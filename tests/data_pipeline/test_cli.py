from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_pipeline.cli import main
from starforge.cli import main as starforge_main
from starforge.config import load_config
from starforge.errors import ConfigError
from tests.data_pipeline.conftest import INPUT_FILES

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "data"


def test_curate_command_writes_outputs(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--output", str(out), "--tasks", "2",
                 "--set", "workers=1"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["totals"]["files"] == len(INPUT_FILES)


def test_unknown_config_key_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown key 'taks'; did you mean 'tasks'"):
        main(["curate", "--output", str(tmp_path), "--set", "taks=3"])


def test_user_error_is_one_line_exit_2(tmp_path: Path, capsys):
    assert starforge_main(["data", "curate", "--input", str(tmp_path / "nope"), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: input") and "no such folder" in err and "\n" not in err


def test_every_data_preset_loads():
    from data_pipeline.curate import CurateConfig
    from data_pipeline.tokenize.shards import TokenizeConfig
    from data_pipeline.tokenize.train import TrainTokenizerConfig

    classes = {"curate": CurateConfig, "tokenizer": TrainTokenizerConfig, "tokenize": TokenizeConfig}
    presets = sorted(CONFIGS.glob("*.yaml"))
    assert presets
    for path in presets:
        load_config(classes[path.stem.split("-")[0]], path)


def test_datatrove_task_logs_stay_off_the_console(corpus: Path, tmp_path: Path, capfd):
    main(["curate", "--input", str(corpus), "--output", str(tmp_path / "out"), "--set", "workers=1"])
    err = capfd.readouterr().err
    assert "| INFO" not in err and "PIPELINE" not in err
    assert list((tmp_path / "out" / "logs" / "filter" / "logs").glob("task_*.log"))
