"""Export to GPTBigCodeForCausalLM: logits match megatron-core's; the directory loads on its own."""

import json

import pytest
import torch
from transformers import AutoTokenizer, GPTBigCodeForCausalLM

from pretrain.cli import main
from pretrain.export import export, qkv_to_bigcode
from pretrain.model import ModelConfig
from pretrain.train import train
from starforge.errors import PretrainError

from .test_train import tiny


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("export_run")
    train(tiny(corpus, out, "train_steps=6", "eval_interval=null"))
    return out


def test_export_matches_megatron_logits_and_writes_a_loadable_model(trained, tmp_path):
    hf_dir = tmp_path / "hf"
    report = export(trained / "checkpoints", hf_dir)
    assert report["max_abs_diff"] < 1e-4 and report["multi_query"] is True
    assert json.loads((hf_dir / "export_report.json").read_text())["max_abs_diff"] == report["max_abs_diff"]
    model = GPTBigCodeForCausalLM.from_pretrained(str(hf_dir))
    assert model.config.multi_query and model.config.vocab_size == 512
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()  # tied
    tok = AutoTokenizer.from_pretrained(str(hf_dir))
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<fim_prefix>", "<fim_pad>"]) == [0, 1, 4]
    ids = tok("def f(x):\n    return", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 4


def test_export_cli_prints_the_report(trained, tmp_path, capsys):
    assert main(["export", "--checkpoint", str(trained / "checkpoints" / "iter_0000006"),
                 "--output", str(tmp_path / "hf")]) == 0
    assert json.loads(capsys.readouterr().out)["max_abs_diff"] < 1e-4


def test_mqa_qkv_rows_regrouped_to_query_key_value():
    cfg = ModelConfig(num_layers=1, hidden_size=8, num_attention_heads=4, num_query_groups=1)
    rows = torch.arange((4 + 2) * 2).float()  # megatron: [q0 q1 q2 q3 | k | v], d = 2
    assert torch.equal(qkv_to_bigcode(rows, cfg), rows)  # one group: already [q | k | v]
    cfg2 = ModelConfig(num_layers=1, hidden_size=8, num_attention_heads=4, num_query_groups=4)
    assert torch.equal(qkv_to_bigcode(rows[:12], cfg2), rows[:12])  # MHA: per-head [q k v] both sides


def test_gqa_cannot_become_gpt_bigcode():
    cfg = ModelConfig(num_layers=1, hidden_size=16, num_attention_heads=4, num_query_groups=2)
    with pytest.raises(PretrainError, match="num_query_groups=2"):
        qkv_to_bigcode(torch.zeros(16 + 2 * 8, 16), cfg)


def test_export_of_a_missing_checkpoint_is_one_line_error(tmp_path):
    with pytest.raises(PretrainError, match="checkpoint directory not found"):
        export(tmp_path / "nope", tmp_path / "hf")
