"""Hugging Face -> megatron-core -> Hugging Face on models transformers builds itself (random
weights, `save_pretrained`), never our own exports, so an error shared by export and import
cannot cancel out: logits equal within 1e-4 (fp32) at TP 1 and, under torchrun, TP 2 and PP 2."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import yaml
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM, Starcoder2Config, Starcoder2ForCausalLM

from pretrain.export import export
from pretrain.hf_import import ImportConfig, import_hf
from pretrain.train import train
from starforge.cli import main as starforge_main
from starforge.errors import ConfigError, PretrainError

from .test_train import tiny, train_losses

VOCAB = 512  # the corpus tokenizer's


def _perturb(model):
    """transformers initialises LayerNorms to (1, 0) and biases to 0; make every tensor matter."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "ln" in name or "norm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return model


def bigcode(multi_query=True, layers=2, **extra):
    torch.manual_seed(0)
    return _perturb(GPTBigCodeForCausalLM(GPTBigCodeConfig(
        vocab_size=VOCAB, n_positions=96, n_embd=64, n_layer=layers, n_head=4, multi_query=multi_query,
        bos_token_id=0, eos_token_id=0, **extra)))


def starcoder2(layers=2, tie=False, window=16):
    torch.manual_seed(0)
    return _perturb(Starcoder2ForCausalLM(Starcoder2Config(
        vocab_size=VOCAB, max_position_embeddings=96, hidden_size=64, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=128, sliding_window=window,
        rope_parameters={"rope_type": "default", "rope_theta": 5000.0}, tie_word_embeddings=tie,
        bos_token_id=0, eos_token_id=0)))


def save(model, path, tokenizer_dir=None):
    model.save_pretrained(str(path))
    if tokenizer_dir is not None:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(str(path))
    return path


def max_logit_diff(original, hf_dir, seq=80):
    """Original model vs the exported directory, reloaded, on random tokens (longer than the window)."""
    back = type(original).from_pretrained(str(hf_dir), dtype=torch.float32, attn_implementation="eager").eval()
    ids = torch.randint(0, VOCAB, (2, seq), generator=torch.Generator().manual_seed(1))
    original.eval()
    with torch.no_grad():
        return float((back(ids).logits - original(ids).logits).abs().max())


@pytest.mark.parametrize("multi_query", [True, False], ids=["mqa", "mha"])
def test_gpt_bigcode_round_trip_keeps_the_logits(tmp_path, corpus, multi_query):
    original = bigcode(multi_query)
    src = save(original, tmp_path / "hf", corpus["tokenizer"])
    report = import_hf(ImportConfig(hf=src, output=tmp_path / "ckpt"))
    assert report["architecture"] == "GPTBigCodeForCausalLM" and report["max_abs_diff"] < 1e-4
    assert (tmp_path / "ckpt" / "tokenizer" / "tokenizer.json").is_file()
    run = yaml.safe_load((tmp_path / "ckpt" / "iter_0000000" / "run_config.yaml").read_text())
    assert run["model"]["num_query_groups"] == (1 if multi_query else 4)
    assert run["preset"] == str((tmp_path / "ckpt" / "model.yaml").resolve())  # no shipped preset has this shape
    assert json.loads((tmp_path / "ckpt" / "iter_0000000" / "meta.json").read_text())["weights_only"] is True
    exported = export(tmp_path / "ckpt", tmp_path / "back")
    assert exported["max_abs_diff"] < 1e-4
    assert max_logit_diff(original, tmp_path / "back") < 1e-4


def test_starcoder2_round_trip_keeps_the_logits_with_a_binding_window(tmp_path):
    original = starcoder2(tie=False, window=16)
    report = import_hf(ImportConfig(hf=save(original, tmp_path / "hf"), output=tmp_path / "ckpt"))
    assert report["architecture"] == "Starcoder2ForCausalLM" and report["max_abs_diff"] < 1e-4
    run = yaml.safe_load((tmp_path / "ckpt" / "iter_0000000" / "run_config.yaml").read_text())
    assert run["model"]["sliding_window"] == 16 and run["model"]["tie_word_embeddings"] is False
    assert run["model"]["rotary_base"] == 5000.0 and run["model"]["position_embedding_type"] == "rope"
    exported = export(tmp_path / "ckpt", tmp_path / "back")
    assert exported["architecture"] == "Starcoder2ForCausalLM" and exported["max_abs_diff"] < 1e-4
    assert max_logit_diff(original, tmp_path / "back") < 1e-4
    # The window binds at 80 tokens: without it the same weights give other logits.
    unwindowed = Starcoder2ForCausalLM.from_pretrained(str(tmp_path / "hf"), sliding_window=None).eval()
    ids = torch.randint(0, VOCAB, (1, 80), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert float((unwindowed(ids).logits - original.eval()(ids).logits).abs().max()) > 1e-3


def test_import_picks_the_shipped_preset_of_the_same_shape(tmp_path):
    # seqvcr-tiny: 4 layers, 128 wide, 4 heads, multi-query, 64 positions, 16 tokens.
    torch.manual_seed(0)
    model = GPTBigCodeForCausalLM(GPTBigCodeConfig(vocab_size=16, n_positions=64, n_embd=128, n_layer=4, n_head=4))
    report = import_hf(ImportConfig(hf=save(model, tmp_path / "hf"), output=tmp_path / "ckpt"))
    assert report["preset"] == "seqvcr-tiny" and not (tmp_path / "ckpt" / "model.yaml").exists()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun_import(src, out, *layout):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                           str(_free_port()), "-m", "starforge", "pretrain", "import", "--hf", str(src), "--output",
                           str(out), *layout], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "import_report.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("family,layout", [("mqa", "tp2"), ("mqa", "pp2"), ("starcoder2", "tp2"),
                                           ("starcoder2", "pp2")])
def test_torchrun_import_at_tp2_and_pp2_round_trips(tmp_path, family, layout):
    # MQA at TP 2: each rank holds half of the fused [q | k | v] rows and all-gathers them; GQA at
    # TP 2: one key/value group per rank; PP 2: each stage fills only its own layers.
    original = bigcode(True, layers=4) if family == "mqa" else starcoder2(layers=4, tie=True, window=16)
    src = save(original, tmp_path / "hf")
    flags = ["--tensor-parallel", "2"] if layout == "tp2" else ["--pipeline-parallel", "2"]
    report = _torchrun_import(src, tmp_path / "ckpt", *flags)
    meta = json.loads((tmp_path / "ckpt" / "iter_0000000" / "meta.json").read_text())
    assert (meta["tensor_parallel"], meta["pipeline_parallel"]) == ((2, 1) if layout == "tp2" else (1, 2))
    assert "skipped" in report  # no in-process check under torchrun: the round trip below is it
    exported = export(tmp_path / "ckpt", tmp_path / "back")
    assert exported["max_abs_diff"] < 1e-4
    assert max_logit_diff(original, tmp_path / "back") < 1e-4


def _cli(capsys, *argv):
    capsys.readouterr()  # drop what building the fixture printed (transformers' progress bars)
    code = starforge_main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def test_another_architecture_is_one_line_error(tmp_path, capsys):
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"],
                                                                "model_type": "llama"}))
    code, err = _cli(capsys, "pretrain", "import", "--hf", str(tmp_path / "llama"), "--output", str(tmp_path / "o"))
    assert code == 2 and len(err.splitlines()) == 1
    assert "config.json: architecture LlamaForCausalLM is not one we convert" in err and "Starcoder2ForCausalLM" in err


def test_a_shape_the_preset_cannot_hold_is_one_line_error(tmp_path, capsys):
    src = save(bigcode(), tmp_path / "hf")
    code, err = _cli(capsys, "pretrain", "import", "--hf", str(src), "--output", str(tmp_path / "o"),
                     "--preset", "starcoderbase-1b")
    assert code == 2 and len(err.splitlines()) == 1
    assert "does not fit preset 'starcoderbase-1b'" in err and "num_layers=2 vs 24" in err and "drop --preset" in err
    # An activation our model does not run is refused naming the config.json field.
    config = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**config, "activation_function": "relu"}))
    code, err = _cli(capsys, "pretrain", "import", "--hf", str(src), "--output", str(tmp_path / "o"))
    assert code == 2 and "config.json: activation_function='relu'" in err


def test_missing_and_truncated_safetensors_are_one_line_errors(tmp_path, capsys):
    src = save(bigcode(), tmp_path / "hf")
    weights = src / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    code, err = _cli(capsys, "pretrain", "import", "--hf", str(src), "--output", str(tmp_path / "o"))
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{weights}: not a readable safetensors file" in err and "download it again" in err
    weights.unlink()
    code, err = _cli(capsys, "pretrain", "import", "--hf", str(src), "--output", str(tmp_path / "o"))
    assert code == 2 and "no model.safetensors or model.safetensors.index.json" in err
    # A sharded checkpoint whose index lists a shard that is not there.
    (src / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "transformer.wte.weight": "model-00001-of-00002.safetensors",
        "transformer.h.0.ln_1.weight": "model-00002-of-00002.safetensors"}}))
    code, err = _cli(capsys, "pretrain", "import", "--hf", str(src), "--output", str(tmp_path / "o"))
    assert code == 2 and "model-00001-of-00002.safetensors: missing (2 of 2 shards" in err


def test_weights_missing_from_the_files_name_the_tensor(tmp_path):
    from safetensors.torch import load_file, save_file

    src = save(bigcode(), tmp_path / "hf")
    tensors = load_file(str(src / "model.safetensors"))
    del tensors["transformer.h.1.mlp.c_fc.weight"]
    save_file(tensors, str(src / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(PretrainError, match="no tensor 'transformer.h.1.mlp.c_fc.weight'"):
        import_hf(ImportConfig(hf=src, output=tmp_path / "o"))


def test_layout_without_torchrun_and_an_imported_checkpoint_resumed_are_refused(tmp_path, corpus):
    src = save(bigcode(), tmp_path / "hf")
    with pytest.raises(PretrainError, match="needs 2 processes, this is 1: run `torchrun --nproc-per-node 2"):
        import_hf(ImportConfig(hf=src, output=tmp_path / "o", tensor_parallel=2))
    import_hf(ImportConfig(hf=src, output=tmp_path / "run" / "checkpoints"))
    with pytest.raises(PretrainError, match="already holds a checkpoint"):
        import_hf(ImportConfig(hf=src, output=tmp_path / "run" / "checkpoints"))
    with pytest.raises(PretrainError, match="holds model weights only .* start a run from it with init_from"):
        train(tiny(corpus, tmp_path / "run", "train_steps=2", "eval_interval=null"), resume=True)


def _continue_config(path, corpus, out, steps):
    path.write_text(yaml.safe_dump({
        "preset": None, "out_dir": str(out), "train_steps": steps, "micro_batch_size": 2, "log_interval": 1,
        "eval_interval": None, "tensorboard": False, "model": {"seq_length": 64, "hidden_dropout": 0.0,
                                                              "attention_dropout": 0.0},
        "data": {"sources": [{"path": str(corpus["shards"])}], "valid_fraction": 0.05},
        "optim": {"warmup_steps": 1, "lr": 0.003}}))
    return path


def test_finetune_continue_from_a_transformers_built_model(tmp_path, corpus, capsys):
    original = bigcode()
    src = save(original, tmp_path / "hf", corpus["tokenizer"])
    # Learning rate 0: the run holds exactly the HF model's weights (converted on the fly, not random).
    frozen = _continue_config(tmp_path / "frozen.yaml", corpus, tmp_path / "frozen", 1)
    assert starforge_main(["finetune", "continue", "--from", str(src), "--config", str(frozen),
                           "--set", "optim.lr=0", "--set", "optim.min_lr=0"]) == 0
    export(tmp_path / "frozen" / "checkpoints", tmp_path / "frozen_hf")
    assert max_logit_diff(original, tmp_path / "frozen_hf") < 1e-4
    run_cfg = yaml.safe_load((tmp_path / "frozen" / "config.yaml").read_text())
    assert run_cfg["model"]["max_position_embeddings"] == 96 and run_cfg["tokenizer"] == str(src.resolve())
    # A real run from it learns.
    trained = _continue_config(tmp_path / "train.yaml", corpus, tmp_path / "trained", 6)
    assert starforge_main(["finetune", "continue", "--from", str(src), "--config", str(trained)]) == 0
    summary = json.loads((tmp_path / "trained" / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["final_loss"] < summary["first_loss"]


def test_trainer_runs_starcoder2_tiny_with_sdpa_and_local_attention_alike(tmp_path, corpus):
    # A window of 16 binds at sequence 64: SDPA's band mask and megatron-core's local softmax agree.
    losses = {}
    for attention in ("sdpa", "local"):
        out = tmp_path / attention
        summary = train(tiny(corpus, out, "preset=starcoder2-tiny", "model.sliding_window=16", "train_steps=5",
                             "eval_interval=null", f"attention={attention}"))
        assert summary["final_loss"] < summary["first_loss"]
        losses[attention] = train_losses(out)
    for step, loss in losses["sdpa"].items():
        assert loss == pytest.approx(losses["local"][step], abs=1e-4), step
    export(tmp_path / "sdpa" / "checkpoints", tmp_path / "sc2_hf")
    assert json.loads((tmp_path / "sc2_hf" / "config.json").read_text())["architectures"] == ["Starcoder2ForCausalLM"]


def test_init_from_a_named_preset_of_another_shape_is_refused(tmp_path, corpus):
    src = save(bigcode(), tmp_path / "hf", corpus["tokenizer"])
    with pytest.raises(ConfigError, match="does not fit preset 'tiny'.*set preset: null"):
        train(tiny(corpus, tmp_path / "run", "train_steps=2", f"init_from={src}"))


@pytest.mark.parametrize("family,config,preset", [
    ("starcoder2", {"architectures": ["Starcoder2ForCausalLM"], "model_type": "starcoder2", "hidden_size": 3072,
                    "intermediate_size": 12288, "num_hidden_layers": 30, "num_attention_heads": 24,
                    "num_key_value_heads": 2, "max_position_embeddings": 16384, "vocab_size": 49152,
                    "rope_theta": 999999.4420358813, "sliding_window": 4096, "norm_epsilon": 1e-5,
                    "hidden_act": "gelu_pytorch_tanh", "use_bias": True, "mlp_type": "default",
                    "norm_type": "layer_norm", "transformers_version": "4.37.0.dev0"}, "starcoder2-3b"),
    ("gpt_bigcode", {"architectures": ["GPTBigCodeForCausalLM"], "model_type": "gpt_bigcode", "n_embd": 2048,
                     "n_head": 16, "n_inner": 8192, "n_layer": 24, "n_positions": 8192, "multi_query": True,
                     "vocab_size": 49152, "activation_function": "gelu_pytorch_tanh"}, "starcoderbase-1b"),
])
def test_published_config_json_values_map_to_our_presets(family, config, preset):
    """bigcode/starcoder2-3b's and bigcode/starcoderbase-1b's config.json fields (transformers
    4.x spelling: top-level rope_theta) pick the shipped preset of that shape."""
    from pretrain import hf
    from pretrain.hf_import import matching_preset

    module = hf.family_of_config(config, "config.json")
    assert module.MODEL_TYPE == family
    assert matching_preset(module.model_config(config, "config.json")) == preset
