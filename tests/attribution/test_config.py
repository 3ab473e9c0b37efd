from __future__ import annotations

from pathlib import Path

import pytest

from attribution.config import AttributionConfig
from starforge.config import load_config
from starforge.errors import ConfigError

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "attribution").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_attribution_preset_loads(path):
    assert isinstance(load_config(AttributionConfig, path), AttributionConfig)


def test_bad_fpr_is_a_config_error():
    with pytest.raises(ConfigError, match="bloom.fpr"):
        load_config(AttributionConfig, None, ["bloom.fpr=2"])
