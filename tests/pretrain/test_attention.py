"""SDPA core attention equals megatron-core's local one; recomputation keeps losses, gradients
and the autocast dtype."""

import pytest
import torch

from pretrain import parallel
from pretrain.model import ModelConfig, build_model, layer_spec
from pretrain.parallel import ParallelConfig
from pretrain.step import causal_mask
from pretrain.train import train

from .test_train import tiny, train_losses


@pytest.fixture
def single_process():
    cfg = ModelConfig(num_layers=2, hidden_size=64, num_attention_heads=4, vocab_size=512, seq_length=32,
                      max_position_embeddings=64, attention_dropout=0.0, hidden_dropout=0.0)
    parallel.init_parallel(cfg, ParallelConfig(), seed=7)
    yield
    parallel.shutdown()


def _model(cfg: ModelConfig, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(cfg, **kwargs)


def _loss_and_grads(model, tokens, autocast=None):
    inputs, labels = tokens[:, :-1], tokens[:, 1:]
    positions = torch.arange(inputs.shape[1], device=inputs.device).expand_as(inputs)
    model.zero_grad(set_to_none=True)
    with autocast or torch.autocast("cpu", enabled=False):
        per_token = model(inputs, positions, causal_mask(inputs.shape[1], inputs.device), labels=labels)
    loss = per_token.float().mean()
    loss.backward()
    return per_token.detach().float(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("groups", [1, 2, 4], ids=["mqa", "gqa", "mha"])
def test_sdpa_matches_local_attention_outputs_and_gradients(single_process, groups):
    cfg = ModelConfig(num_layers=2, hidden_size=64, num_attention_heads=4, num_query_groups=groups, vocab_size=512,
                      seq_length=32, max_position_embeddings=64, attention_dropout=0.0, hidden_dropout=0.0)
    local, sdpa = _model(cfg, attention="local"), _model(cfg, attention="sdpa")
    sdpa.load_state_dict(local.state_dict())
    assert type(sdpa.decoder.layers[0].self_attention.core_attention).__name__ == "SdpaAttention"
    tokens = torch.randint(0, 512, (3, 33), generator=torch.Generator().manual_seed(1))
    loss_l, grads_l = _loss_and_grads(local, tokens)
    loss_s, grads_s = _loss_and_grads(sdpa, tokens)
    torch.testing.assert_close(loss_s, loss_l, atol=1e-5, rtol=1e-5)
    for name, grad in grads_l.items():
        torch.testing.assert_close(grads_s[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_sdpa_training_run_matches_local(corpus, tmp_path):
    local = tmp_path / "local"
    sdpa = tmp_path / "sdpa"
    train(tiny(corpus, local, "train_steps=5", "eval_interval=null", "attention=local"))
    train(tiny(corpus, sdpa, "train_steps=5", "eval_interval=null", "attention=sdpa"))
    expected, got = train_losses(local), train_losses(sdpa)
    assert sorted(got) == list(range(1, 6))
    for step, loss in expected.items():
        assert got[step] == pytest.approx(loss, abs=1e-4), step


@pytest.mark.parametrize("attention", ["local", "sdpa"])
def test_recompute_gives_the_same_loss_and_gradients_with_dropout(single_process, attention):
    # Dropout on: the recomputation must replay the same masks (CPU RNG and megatron's tracker).
    cfg = ModelConfig(num_layers=2, hidden_size=64, num_attention_heads=4, vocab_size=512, seq_length=32,
                      max_position_embeddings=64, attention_dropout=0.1, hidden_dropout=0.1)
    plain, recomputed = _model(cfg, attention=attention), _model(cfg, attention=attention, recompute=True)
    recomputed.load_state_dict(plain.state_dict())
    assert type(recomputed.decoder.layers[0]).__name__ == "RecomputedTransformerLayer"
    tokens = torch.randint(0, 512, (2, 33), generator=torch.Generator().manual_seed(2))
    from pretrain.checkpoint import rng_state, set_rng_state

    start = rng_state()
    loss_p, grads_p = _loss_and_grads(plain, tokens)
    set_rng_state(start)
    loss_r, grads_r = _loss_and_grads(recomputed, tokens)
    torch.testing.assert_close(loss_r, loss_p, atol=0, rtol=0)
    for name, grad in grads_p.items():
        torch.testing.assert_close(grads_r[name], grad, atol=1e-7, rtol=1e-6, msg=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="megatron-core's linear layers run bf16 autocast on CUDA only "
                    "(their custom_bwd is bound to device_type='cuda')")
def test_recompute_under_bf16_autocast_keeps_the_dtype():
    cfg = ModelConfig(num_layers=2, hidden_size=64, num_attention_heads=4, vocab_size=512, seq_length=32,
                      max_position_embeddings=64, attention_dropout=0.0, hidden_dropout=0.0)
    parallel.init_parallel(cfg, ParallelConfig(), seed=7)
    try:
        plain = _model(cfg, attention="sdpa", on_gpu=True).cuda()
        recomputed = _model(cfg, attention="sdpa", recompute=True, on_gpu=True).cuda()
        recomputed.load_state_dict(plain.state_dict())
        tokens = torch.randint(0, 512, (2, 33), generator=torch.Generator().manual_seed(3)).cuda()
        loss_p, grads_p = _loss_and_grads(plain, tokens, torch.autocast("cuda", dtype=torch.bfloat16))
        loss_r, grads_r = _loss_and_grads(recomputed, tokens, torch.autocast("cuda", dtype=torch.bfloat16))
    finally:
        parallel.shutdown()
    torch.testing.assert_close(loss_r, loss_p, atol=0, rtol=0)
    for name, grad in grads_p.items():
        assert grads_r[name].dtype == torch.float32
        torch.testing.assert_close(grads_r[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_auto_attention_is_sdpa_without_transformer_engine():
    spec = layer_spec(ModelConfig(), on_gpu=False, attention="auto")
    assert spec.submodules.self_attention.submodules.core_attention.__name__ == "SdpaAttention"

