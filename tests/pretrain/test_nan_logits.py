"""A NaN logits difference fails `pretrain import` and `pretrain export` (NaN passes no `>=`
check, so both used to exit 0): a transformers-built GPTBigCode with one NaN weight, through the
real console script, exit code 2 and one `error:` line."""

from __future__ import annotations

import torch

from pretrain.hf_import import ImportConfig, import_hf
from tests.console import one_line_error, starforge

from .test_hf_import import bigcode, save


def poisoned(tmp_path, corpus):
    model = bigcode()
    with torch.no_grad():
        model.transformer.h[0].mlp.c_fc.weight[0, 0] = float("nan")  # every later logit is NaN
    return save(model, tmp_path / "poisoned", corpus["tokenizer"])


def test_import_with_nan_logits_fails(tmp_path, corpus):
    msg = one_line_error(starforge("pretrain", "import", "--hf", str(poisoned(tmp_path, corpus)),
                                   "--output", str(tmp_path / "ckpt")))
    assert "import: logits differ by nan (tolerance 0.0001)" in msg


def test_export_with_nan_logits_fails(tmp_path, corpus):
    import_hf(ImportConfig(hf=poisoned(tmp_path, corpus), output=tmp_path / "ckpt", check_tokens=0))  # no check
    msg = one_line_error(starforge("pretrain", "export", "--checkpoint", str(tmp_path / "ckpt"),
                                   "--output", str(tmp_path / "hf")))
    assert "export: logits differ by nan (tolerance 0.0001)" in msg
