"""Every YAML preset in configs/ loads into its stage's config dataclass (litgpt's config-hub test):
a renamed field or a typo in a shipped preset fails here, not in a user's run."""

from pathlib import Path

import pytest

from starforge.config import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _loader(path: Path):
    """The config class (or loader) that reads `path`, by folder and file-name prefix."""
    folder, name = path.parent.name, path.name
    if folder == "models":
        from pretrain.model import ModelConfig

        return lambda p: load_config(ModelConfig, p)
    if folder == "runs" or (folder == "finetune" and name.startswith("continue-")):
        from pretrain.config import load_train_config

        return load_train_config
    if folder == "data":
        from data_pipeline.curate import CurateConfig
        from data_pipeline.tokenize.shards import TokenizeConfig
        from data_pipeline.tokenize.train import TrainTokenizerConfig

        cls = {"curate": CurateConfig, "tokenizer": TrainTokenizerConfig, "tokenize": TokenizeConfig}
        prefix = name.split("-")[0].removesuffix(".yaml")
        return lambda p: load_config(cls[prefix], p)
    if folder == "eval":
        from eval.config import EvalConfig

        return lambda p: load_config(EvalConfig, p)
    if folder == "pii":
        from pii.config import PiiConfig

        return lambda p: load_config(PiiConfig, p)
    if folder == "attribution":
        from attribution.config import AttributionConfig

        return lambda p: load_config(AttributionConfig, p)
    raise AssertionError(f"{path}: no loader known for configs/{folder}/; add one here")


ALL = sorted(CONFIGS.rglob("*.yaml"))
# Each finetune preset names its own command's config; tests/finetune/test_configs.py loads those.
PRESETS = [p for p in ALL if p.parent.name != "finetune" or p.name.startswith("continue-")]


def test_there_are_presets_for_every_stage():
    assert {p.parent.name for p in ALL} >= {"models", "runs", "data", "eval", "pii", "attribution", "finetune"}


@pytest.mark.parametrize("path", PRESETS, ids=[str(p.relative_to(CONFIGS)) for p in PRESETS])
def test_every_preset_loads(path):
    assert _loader(path)(path) is not None
