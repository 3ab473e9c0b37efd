"""Seq-VCR and pause tokens in the Hugging Face SFT path (`finetune/sft.py`), on the tiny model."""

import pytest

from finetune.sft import SFTConfig, load_model_and_tokenizer, read_sft_records, sft
from finetune.sft_trainer import make_trainer
from starforge.errors import ConfigError
from starforge.modeling.pause import PAUSE_TOKEN
from starforge.modeling.seqvcr import SeqVcrConfig


def _losses(out_dir):
    import json

    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r and "eval_loss" not in r], rows


def _cfg(**kw):
    return SFTConfig(max_steps=4, batch_size=8, valid_share=0.0, eval_steps=5, warmup_steps=1, **kw)


def test_zero_lambdas_give_the_losses_of_a_run_without_seqvcr(tiny_model, problem_files, tmp_path):
    sft(tiny_model, problem_files["train"], tmp_path / "off", _cfg())
    on = SeqVcrConfig(projection_size=64, lambda_var=0.0, lambda_cov=0.0)
    sft(tiny_model, problem_files["train"], tmp_path / "on", _cfg(seqvcr=on))
    off_rows, _ = _losses(tmp_path / "off")
    on_rows, _ = _losses(tmp_path / "on")
    assert len(off_rows) == len(on_rows) == 4
    assert [r["loss"] for r in on_rows] == pytest.approx([r["loss"] for r in off_rows], rel=1e-6)
    assert "seqvcr_var" in on_rows[0] and "seqvcr_var" not in off_rows[0]


def test_seqvcr_on_logs_its_terms_and_trains(tiny_model, problem_files, tmp_path):
    cfg = _cfg(seqvcr=SeqVcrConfig(layer=2, projection_size=64))
    summary = sft(tiny_model, problem_files["train"], tmp_path / "v", cfg)
    rows, _ = _losses(tmp_path / "v")
    assert summary["steps"] == 4
    for r in rows:
        for key in ("seqvcr_var", "seqvcr_cov", "seqvcr_entropy", "seqvcr_effective_rank"):
            assert key in r and r[key] == r[key]  # present, not NaN
        assert 0.0 <= r["seqvcr_var"] <= 1.0 and r["seqvcr_entropy"] > 0
    # the projection is the trainer's, not the model's: the output is a plain GPTBigCode
    from safetensors.torch import load_file

    assert not any("seqvcr" in k for k in load_file(tmp_path / "v" / "model.safetensors"))


def test_seqvcr_layer_outside_the_model_is_one_line_error(tiny_model, problem_files, tmp_path):
    with pytest.raises(ConfigError, match=r"seqvcr.layer=9 is outside"):
        sft(tiny_model, problem_files["train"], tmp_path / "x", _cfg(seqvcr=SeqVcrConfig(layer=9)))


def test_num_pause_puts_pauses_between_prompt_and_response_outside_the_loss(tiny_model, problem_files, tmp_path):
    model, tok = load_model_and_tokenizer(tiny_model)
    tok.add_special_tokens({"additional_special_tokens": [PAUSE_TOKEN]})
    model.resize_token_embeddings(len(tok))
    pause_id = tok.convert_tokens_to_ids(PAUSE_TOKEN)
    pairs = read_sft_records(problem_files["train"], tok)[:4]
    trainer = make_trainer(model, tok, _cfg(num_pause=3), tmp_path / "p", pairs, [])
    ex = trainer.train_dataset[0]
    prompt_ids = tok(pairs[0]["prompt"])["input_ids"]
    completion_ids = tok(pairs[0]["prompt"] + pairs[0]["completion"])["input_ids"][len(prompt_ids):]
    n = len(prompt_ids)
    assert ex["input_ids"][:n] == prompt_ids
    assert ex["input_ids"][n:n + 3] == [pause_id] * 3
    assert pause_id not in ex["input_ids"][n + 3:] and ex["input_ids"][n + 3:][:5] == completion_ids[:5]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    labels, ids = batch["labels"][0], batch["input_ids"][0]
    assert (labels[ids == pause_id] == -100).all() and (ids == pause_id).sum() == 3
    assert (labels[:n + 3] == -100).all() and (labels[n + 3:] != -100).any()


def test_num_pause_without_pause_token_is_one_line_error(tiny_model, problem_files, tmp_path):
    _, tok = load_model_and_tokenizer(tiny_model)
    assert PAUSE_TOKEN not in tok.get_vocab()
    with pytest.raises(ConfigError, match="num_pause") as err:
        sft(tiny_model, problem_files["train"], tmp_path / "x", _cfg(num_pause=2))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "x" / "metrics.jsonl").exists()


def test_seqvcr_statistics_leave_right_padding_out(tiny_model, problem_files, tmp_path):
    """A padded batch through the trainer's loss: the regulariser gets the batch's attention mask,
    and its terms are those of the real tokens only."""
    from starforge.modeling.seqvcr import seqvcr_terms

    model, tok = load_model_and_tokenizer(tiny_model)
    pairs = read_sft_records(problem_files["train"], tok)[:8]
    trainer = make_trainer(model, tok, _cfg(seqvcr=SeqVcrConfig(projection_size=16)), tmp_path / "m", pairs, [])
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(8)])
    mask = batch["attention_mask"]
    assert not mask.all()  # examples of different lengths: right padding
    trainer.model.train()
    trainer.compute_loss(trainer.model, batch)
    reg = trainer.seqvcr_reg
    assert reg.last_mask is not None and (reg.last_mask == mask).all()
    var, _ = seqvcr_terms(reg.projection(reg.last_hidden), reg.cfg.eps, mask)
    unmasked, _ = seqvcr_terms(reg.projection(reg.last_hidden), reg.cfg.eps)
    assert float(reg.last["seqvcr_var"]) == pytest.approx(float(var), rel=1e-5)
    assert float(var) != pytest.approx(float(unmasked), rel=1e-5)
