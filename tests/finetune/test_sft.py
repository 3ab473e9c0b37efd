import json

import pytest
import torch

from finetune.models import load_tokenizer, use_cpu
from finetune.sft import LoraConfig, SFTConfig, load_model_and_tokenizer, read_sft_records, sft
from starforge.errors import FinetuneError, FormatError


def test_sft_lowers_valid_loss_on_generated_problems(tiny_model, problem_files, tmp_path):
    cfg = SFTConfig(max_steps=40, lr=2e-3, batch_size=8, eval_steps=20, warmup_steps=5)
    summary = sft(tiny_model, problem_files["train"], tmp_path / "sft", cfg)
    assert summary["valid_loss_end"] < 0.5 * summary["valid_loss_start"]
    assert (tmp_path / "sft" / "summary.json").is_file() and (tmp_path / "sft" / "loss.png").is_file()


@pytest.mark.slow
def test_sft_output_loads_in_eval_as_is(tiny_model, problem_files, tmp_path):
    from eval.generate import HFBackend

    sft(tiny_model, problem_files["train"], tmp_path / "sft", SFTConfig(max_steps=2, valid_share=0.0))
    backend = HFBackend(tmp_path / "sft", device="cpu")
    assert backend.tokenizer.chat_template  # saved with the tokenizer


@pytest.mark.slow
def test_lora_merged_output_is_a_plain_model(tiny_model, problem_files, tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = SFTConfig(max_steps=3, valid_share=0.0, lr=1e-2, lora=LoraConfig(enabled=True, merge=True))
    sft(tiny_model, problem_files["train"], tmp_path / "lora", cfg)
    assert not (tmp_path / "lora" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora")
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    name = "transformer.h.0.attn.c_attn.weight"
    assert not torch.equal(merged.state_dict()[name], base.state_dict()[name])


def test_missing_lora_target_is_one_line_error(tiny_model, problem_files, tmp_path):
    cfg = SFTConfig(max_steps=1, lora=LoraConfig(enabled=True, target_modules=["q_proj"]))
    with pytest.raises(FinetuneError, match="LoRA target module.*q_proj.*not in the model"):
        sft(tiny_model, problem_files["train"], tmp_path / "x", cfg)


def test_unloadable_model_dir_is_one_line_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FinetuneError, match="does not load"):
        load_model_and_tokenizer(tmp_path)


def test_instruction_chat_and_commit_records_use_starcoder_tokens(tiny_model, tmp_path):
    path = tmp_path / "d.jsonl"
    recs = [
        {"instruction": "Add one.", "input": "x=1", "response": "x + 1"},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"before": "a = 1\n", "message": "bump", "after": "a = 2\n"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    _, tok = load_model_and_tokenizer(tiny_model)  # no template of its own: StarChat's
    inst, chat, commit = read_sft_records(path, tok)
    assert inst["prompt"] == "<|user|>\nAdd one.\n\nx=1<|end|>\n<|assistant|>\n"
    assert inst["completion"] == "x + 1<|end|>\n<|endoftext|>"
    assert chat["prompt"].startswith("<|user|>\nhi<|end|>") and chat["completion"].startswith("hello")
    assert commit["prompt"] == "<commit_before>a = 1\n<commit_msg>bump<commit_after>"
    assert commit["completion"] == "a = 2\n<|endoftext|>"


def test_bad_sft_line_names_file_and_line(tiny_model, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "x", "response": "y"}\n{"instruction": "x", "response": 3}\n')
    with pytest.raises(FormatError, match=r"d.jsonl:2: field 'response' must be a string"):
        read_sft_records(path, load_tokenizer(tiny_model))


def test_packing_refused_where_examples_would_attend_to_each_other(tiny_model, problem_files, tmp_path):
    """TRL's padding-free packing keeps examples apart only under flash attention: on the CPU
    (sdpa) GPTBigCode ignores the restarting position_ids, so the packed row leaks across
    examples (checked here) and `sft` refuses `packing` rather than train on the leak."""
    model, tok = load_model_and_tokenizer(tiny_model)
    model.eval()
    a = tok("def solve(x):\n    return x", return_tensors="pt").input_ids
    b = tok("s = s[::-1]", return_tensors="pt").input_ids
    with torch.no_grad():
        alone = model(b).logits[0]
        pos = torch.cat([torch.arange(a.shape[1]), torch.arange(b.shape[1])]).unsqueeze(0)
        packed = model(torch.cat([a, b], dim=1), position_ids=pos).logits[0, a.shape[1]:]
    assert not torch.allclose(alone, packed, atol=1e-4)
    with pytest.raises(FinetuneError, match="packing.*flash_attention"):
        sft(tiny_model, problem_files["train"], tmp_path / "p", SFTConfig(max_steps=1, packing=True))


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_a_tokenizer_with_its_own_chat_template_renders_the_records(tiny_model, tmp_path):
    """A model that ships a chat template (ChatML here) is trained in its own format: StarChat's
    template and tokens are only for tokenizers without one."""
    import shutil

    from transformers import AutoTokenizer

    own = tmp_path / "chatml"
    shutil.copytree(tiny_model, own)
    tok = AutoTokenizer.from_pretrained(own)
    tok.chat_template = CHATML
    tok.save_pretrained(own)
    _, tok = load_model_and_tokenizer(own)
    assert tok.chat_template == CHATML
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"instruction": "Add one.", "response": "x + 1"}) + "\n")
    [pair] = read_sft_records(path, tok)
    assert pair["prompt"] == "<|im_start|>user\nAdd one.<|im_end|>\n<|im_start|>assistant\n"
    assert pair["completion"] == "x + 1<|im_end|>\n" + tok.eos_token


def test_training_device_comes_from_the_config(tmp_path):
    from finetune.sft_trainer import trl_sft_args

    assert trl_sft_args(SFTConfig(device="cpu"), tmp_path, False).use_cpu
    assert trl_sft_args(SFTConfig(device="auto"), tmp_path, False).use_cpu == (not torch.cuda.is_available())
    assert use_cpu("auto") == (not torch.cuda.is_available())
