from pathlib import Path

import pytest

from finetune.rl import RLConfig
from finetune.sft import SFTConfig
from finetune.tiny import load_tiny_config
from pretrain.config import load_train_config
from starforge.config import load_config

CONFIGS = Path(__file__).parents[2] / "configs" / "finetune"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_finetune_preset_loads(path):
    if path.name.startswith("continue-"):
        load_train_config(path)
    elif path.name.startswith("sft-"):
        load_config(SFTConfig, path)
    elif path.name.startswith("rl-"):
        load_config(RLConfig, path)
    else:
        load_tiny_config(path)
