"""Export to GPTBigCodeForCausalLM: logits match megatron-core's; the directory loads on its own."""

import json

import pytest
import torch
import yaml
from transformers import AutoTokenizer, GPTBigCodeForCausalLM

from pretrain.cli import main
from pretrain.export import export
from pretrain.hf.gpt_bigcode import qkv_to_hf as qkv_to_bigcode
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


def test_export_writes_a_model_card_with_the_hub_metadata(trained, tmp_path):
    metrics = tmp_path / "eval" / "evaluation_results.json"
    metrics.parent.mkdir()
    metrics.write_text(json.dumps({"humaneval": {"pass@1": 0.125, "pass@10": 0.25}, "config": {"model": "x"}}))
    export(trained / "checkpoints", tmp_path / "hf", license="bigcode-openrail-m", eval_dir=metrics.parent,
           model_name="tiny-coder")
    card = (tmp_path / "hf" / "README.md").read_text()
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["license"] == "bigcode-openrail-m" and meta["pipeline_tag"] == "text-generation"
    result = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "tiny-coder" and result["dataset"]["type"] == "openai_humaneval"
    assert {m["type"]: m["value"] for m in result["metrics"]} == {"pass@1": 0.125, "pass@10": 0.25}
    body = card.split("---\n", 2)[2]
    assert "| architecture | GPTBigCodeForCausalLM |" in body and "multi-query" in body
    assert "`<fim_prefix>` = 1" in body and "`<fim_pad>` = 4" in body  # the run's tokenizer's FIM ids
    assert "| context length | 256 tokens (trained at 64) |" in body
    assert "| humaneval | pass@1 | 0.1250 |" in body


def test_model_card_data_summary_reads_the_shards_and_the_funnel(tmp_path):
    from pretrain.model_card import data_summary

    curate, shards = tmp_path / "curated", tmp_path / "shards"
    (curate / "kept").mkdir(parents=True)
    shards.mkdir()
    (curate / "funnel.json").write_text(json.dumps({
        "input": {"docs": 1000, "bytes": 9000}, "kept": {"docs": 700, "bytes": 6000, "tokens": 0},
        "steps": [{"step": "xml header", "docs_in": 1000, "docs_out": 900}, {"step": "dedup", "docs_in": 900,
                                                                             "docs_out": 700}]}))
    (shards / "config.yaml").write_text(yaml.safe_dump({"input": str(curate / "kept")}))
    (shards / "summary.json").write_text(json.dumps({"docs": 700, "tokens": 12345}))
    (summary,) = data_summary({"data": {"sources": [{"path": str(shards), "weight": 2.0}]}})
    assert summary["docs"] == 700 and summary["tokens"] == 12345 and summary["weight"] == 2.0
    assert summary["curation"]["docs_in"] == 1000 and summary["curation"]["steps"] == {"xml header": 100, "dedup": 200}
    (missing,) = data_summary({"data": {"sources": [{"path": str(tmp_path / "elsewhere")}]}})
    assert set(missing) == {"path", "weight"}  # nothing found, nothing invented
