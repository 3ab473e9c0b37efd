"""ModelConfig presets: shapes, parameter and FLOP counts, `describe`."""

import json

import pytest
import torch

from pretrain.cli import main
from pretrain.model import ModelConfig, load_preset, preset_names
from pretrain.parallel import ParallelConfig, check_layout
from starforge.errors import ConfigError, PretrainError


def test_every_model_preset_loads_with_its_family_architecture():
    assert {"tiny", "santacoder", "starcoderbase-1b", "starcoderbase-3b", "starcoderbase-7b", "starcoder-15.5b",
            "starcoder2-tiny", "starcoder2-3b", "starcoder2-7b", "starcoder2-15b"} <= set(preset_names())
    for name in preset_names():
        cfg = load_preset(name)
        assert cfg.ffn_hidden_size == 4 * cfg.hidden_size, name
        if name.startswith("starcoder2"):  # GQA, RoPE, sliding window
            assert 1 < cfg.num_query_groups < cfg.num_attention_heads, name
            assert cfg.position_embedding_type == "rope" and cfg.sliding_window is not None, name
        else:  # StarCoder: multi-query, learned positions
            assert cfg.num_query_groups == 1, name
            assert cfg.position_embedding_type == "learned_absolute", name


# Published sizes: the hub's safetensors metadata for starcoder2-15b (exact); the hub's rounded
# "3.03B" and "7.17B" for the smaller two; "1.1B" for SantaCoder (arXiv 2301.03988).
@pytest.mark.parametrize("name,published,tolerance", [("starcoder2-15b", 15_957_889_024, 0),
                                                      ("starcoder2-7b", 7.17e9, 0.005e9),
                                                      ("starcoder2-3b", 3.03e9, 0.005e9),
                                                      ("santacoder", 1.1e9, 0.05e9)])
def test_preset_parameter_counts_match_the_published_ones(name, published, tolerance):
    assert abs(load_preset(name).parameters() - published) <= tolerance


@pytest.mark.parametrize("name", ["starcoder2-3b", "starcoder2-15b"])
def test_parameter_count_equals_transformers_starcoder2(name):
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    cfg = load_preset(name)
    hf = Starcoder2Config(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.ffn_hidden_size,
                          num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_attention_heads,
                          num_key_value_heads=cfg.num_query_groups, tie_word_embeddings=cfg.tie_word_embeddings)
    with torch.device("meta"):
        model = Starcoder2ForCausalLM(hf)
    assert cfg.parameters() == sum(p.numel() for p in model.parameters())  # a tied lm_head counted once


def test_sliding_window_cuts_attention_flops_only_where_it_binds():
    cfg = load_preset("starcoder2-3b")
    full = ModelConfig(**{**cfg.__dict__, "sliding_window": None})
    assert cfg.flops_per_token(4096) == full.flops_per_token(4096)  # window = sequence: nothing masked
    assert cfg.flops_per_token(16384) < full.flops_per_token(16384)
    w, s = 4096, 16384
    assert full.flops_per_token(s) - cfg.flops_per_token(s) == pytest.approx(
        12 * cfg.num_layers * cfg.hidden_size * (s / 2 - (w - w * w / (2 * s))), rel=1e-9)


def test_starcoder_15b_parameter_count_matches_paper():
    cfg = load_preset("starcoder-15.5b")
    assert (cfg.num_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.max_position_embeddings) == (40, 6144, 48, 8192)
    # arXiv 2305.06161: "15.5B parameter models"
    assert abs(cfg.parameters() - 15.5e9) / 15.5e9 < 0.005


@pytest.mark.parametrize("name", ["starcoderbase-1b", "starcoder-15.5b"])
def test_parameter_count_equals_transformers_gpt_bigcode(name):
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    cfg = load_preset(name)
    hf = GPTBigCodeConfig(vocab_size=cfg.vocab_size, n_positions=cfg.max_position_embeddings, n_embd=cfg.hidden_size,
                          n_layer=cfg.num_layers, n_head=cfg.num_attention_heads, multi_query=True)
    with torch.device("meta"):
        model = GPTBigCodeForCausalLM(hf)
    assert cfg.parameters() == sum(p.numel() for p in model.parameters())  # lm_head tied, counted once


def test_flops_per_token_is_six_n_plus_causal_attention():
    cfg = load_preset("starcoderbase-1b")
    n_matmul = cfg.parameters() - cfg.max_position_embeddings * cfg.hidden_size
    # 6N is the classic estimate; ours adds 6 L s h for causal attention and drops norms/biases.
    assert cfg.flops_per_token() == pytest.approx(6 * n_matmul + 6 * 24 * 8192 * 2048, rel=0.01)


def test_gqa_derives_kv_width_and_vocab_padding():
    cfg = ModelConfig(num_layers=2, hidden_size=256, num_attention_heads=8, num_query_groups=2, vocab_size=1000)
    assert cfg.head_dim == 32 and cfg.kv_channels == 64
    assert cfg.padded_vocab_size() == 1024 and cfg.padded_vocab_size(tensor_parallel=4) == 1024
    assert cfg.padded_vocab_size(tensor_parallel=16) == 2048


def test_heads_not_divisible_by_groups_is_a_config_error():
    with pytest.raises(ConfigError, match="num_query_groups 3"):
        ModelConfig(num_attention_heads=4, num_query_groups=3)


def test_layout_errors_name_the_numbers():
    cfg = load_preset("starcoder-15.5b")
    with pytest.raises(PretrainError, match="num_attention_heads=48 is not divisible by parallel.tensor_parallel=5"):
        check_layout(cfg, ParallelConfig(tensor_parallel=5), world=10, on_gpu=True)
    with pytest.raises(PretrainError, match="world size 12 does not factor into tensor_parallel=8 x pipeline_parallel=1"):
        check_layout(cfg, ParallelConfig(tensor_parallel=8), world=12, on_gpu=True)
    with pytest.raises(PretrainError, match="num_layers=40 is not divisible by parallel.pipeline_parallel=3"):
        check_layout(cfg, ParallelConfig(pipeline_parallel=3), world=12, on_gpu=True)
    assert check_layout(cfg, ParallelConfig(tensor_parallel=8), world=512, on_gpu=True) == 64


def test_describe_json_has_the_documented_keys(capsys):
    assert main(["describe", "starcoder-15.5b", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == load_preset("starcoder-15.5b").parameters()
    assert {k: info[k] for k in ("layers", "hidden", "heads", "kv_groups", "seq_length")} == {
        "layers": 40, "hidden": 6144, "heads": 48, "kv_groups": 1, "seq_length": 8192}
    assert info["flops_per_token"] > 6 * 15e9


def test_unknown_preset_lists_the_choices():
    with pytest.raises(PretrainError, match="choose one of: .*starcoder-15.5b"):
        load_preset("starcoder-16b")
