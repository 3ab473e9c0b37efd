"""The demo's data chain on the full embedded corpus, with 2 worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from data_pipeline.curate import CurateConfig, curate
from data_pipeline.readers.sources import list_stdlib
from data_pipeline.tokenize.shards import TokenizeConfig, tokenize
from data_pipeline.tokenize.train import TrainTokenizerConfig, train_tokenizer
from tests.data_pipeline.helpers import outcomes


@pytest.mark.slow
def test_stdlib_curate_train_tokenize(tmp_path: Path):
    started = time.perf_counter()
    stats = curate(CurateConfig(output=tmp_path / "data", tasks=2, workers=2))
    tok = train_tokenizer(TrainTokenizerConfig(input=tmp_path / "data" / "kept", output=tmp_path / "tok",
                                               vocab_size=8192))
    shards = tokenize(TokenizeConfig(input=tmp_path / "data" / "kept", tokenizer=tmp_path / "tok",
                                     output=tmp_path / "shards", tasks=2, workers=2))
    wall = time.perf_counter() - started
    print(json.dumps({"wall_s": round(wall, 1), "curate_s": stats["wall_s"], "train_s": tok["wall_s"],
                      "tokenize_s": shards["wall_s"], "totals": stats["totals"], "tokens": shards["tokens"]}))

    totals = stats["totals"]
    assert totals["files"] == len(list_stdlib()) == totals["kept"] + totals["removed"]
    found = outcomes(tmp_path / "data")
    assert set(found) == {f.id for f in list_stdlib()} and all(len(v) == 1 for v in found.values())
    assert totals["kept"] > 1000 and {"binary", "empty", "exact_duplicate"} <= set(totals["removed_by_reason"])
    assert tok["docs"] == totals["kept"] == shards["docs"]
    assert len(shards["shards"]) == 2 and shards["tokens"] > totals["kept"]
