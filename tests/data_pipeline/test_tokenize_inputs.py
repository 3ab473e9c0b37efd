"""`data tokenize` and `data train-tokenizer` on inputs that used to give tracebacks, short
shards or stale ones: truncated and non-gzip kept files, the kept/ a killed curate leaves, a
corrupt tokenizer.json, a tokenizer retrained in place; and `--tokenizer HF_DIR`, a public
model's tokenizer (built here with `tokenizers` and saved by transformers' `save_pretrained`,
no hub). CLI cases go through the real console script: exit code 2, one `error:` line."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from data_pipeline.tokenize.train import TrainTokenizerConfig, train_tokenizer
from starforge.formats.jsonl import write_jsonl
from starforge.formats.shards import read_shard_meta, shard_documents, shard_prefixes
from starforge.formats.tokenizer import fingerprint_of
from tests.console import one_line_error, starforge
from tests.pretrain.conftest import python_texts

PUBLIC_SPECIALS = ["<s>", "</s>", "<unk>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]




def write_kept(kept: Path, texts: list[str], files: int = 2) -> Path:
    kept.mkdir(parents=True, exist_ok=True)
    for rank in range(files):
        write_jsonl(kept / f"{rank:05d}.jsonl.gz",
                    ({"text": t, "id": f"{rank}/{i}", "metadata": {}} for i, t in enumerate(texts[rank::files])))
    return kept


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tokenize_inputs")
    kept = write_kept(root / "kept", python_texts())
    train_tokenizer(TrainTokenizerConfig(input=kept, output=root / "tok", vocab_size=400))
    return {"kept": kept, "tokenizer": root / "tok", "root": root}


def tokenize_cli(kept: Path, tokenizer: Path, out: Path) -> subprocess.CompletedProcess:
    return starforge("data", "tokenize", "--input", str(kept), "--tokenizer", str(tokenizer), "--output", str(out),
                     "--set", "workers=1")


def test_truncated_kept_file_is_one_error_naming_it_and_no_half_shard(inputs, tmp_path):
    kept = shutil.copytree(inputs["kept"], tmp_path / "kept")
    data = (kept / "00001.jsonl.gz").read_bytes()
    (kept / "00001.jsonl.gz").write_bytes(data[: len(data) // 2])
    msg = one_line_error(tokenize_cli(kept, inputs["tokenizer"], tmp_path / "shards"))
    assert f"{kept / '00001.jsonl.gz'}: unreadable" in msg
    assert not list((tmp_path / "shards").glob("*.bin")) if (tmp_path / "shards").exists() else True
    msg = one_line_error(starforge("data", "train-tokenizer", "--input", str(kept), "--output", str(tmp_path / "t"),
                                   "--set", "vocab_size=400"))
    assert f"{kept / '00001.jsonl.gz'}: unreadable" in msg


def test_non_gzip_kept_file_is_one_error_naming_it(inputs, tmp_path):
    kept = shutil.copytree(inputs["kept"], tmp_path / "kept")
    (kept / "00000.jsonl.gz").write_text('{"text": "x = 1\\n", "id": "a", "metadata": {}}\n')  # plain text
    msg = one_line_error(tokenize_cli(kept, inputs["tokenizer"], tmp_path / "shards"))
    assert f"{kept / '00000.jsonl.gz'}: unreadable (Not a gzipped file" in msg


def test_kept_of_a_killed_curate_is_refused(inputs, tmp_path):
    run = tmp_path / "curated"
    shutil.copytree(inputs["kept"], run / "kept")
    (run / "config.yaml").write_text("input: corpus\n")
    (run / "logs" / "dedup_filter").mkdir(parents=True)  # as curate leaves it before stats.json
    for command in (["data", "tokenize", "--input", str(run / "kept"), "--tokenizer", str(inputs["tokenizer"]),
                     "--output", str(tmp_path / "shards")],
                    ["data", "train-tokenizer", "--input", str(run / "kept"), "--output", str(tmp_path / "t")]):
        msg = one_line_error(starforge(*command))
        assert f"{run} is an unfinished `starforge data curate` run (no stats.json" in msg
    (run / "stats.json").write_text("{}")
    assert starforge("data", "tokenize", "--input", str(run / "kept"), "--tokenizer", str(inputs["tokenizer"]),
                     "--output", str(tmp_path / "shards"), "--set", "workers=1").returncode == 0


def test_corrupt_tokenizer_json_is_one_error_naming_it(inputs, tmp_path):
    tok = shutil.copytree(inputs["tokenizer"], tmp_path / "tok")
    (tok / "tokenizer.json").write_bytes((tok / "tokenizer.json").read_bytes()[:500])
    msg = one_line_error(tokenize_cli(inputs["kept"], tok, tmp_path / "shards"))
    assert f"{tok / 'tokenizer.json'}: not a tokenizer.json" in msg


def test_shards_record_the_tokenizer_that_made_them(inputs, tmp_path):
    proc = tokenize_cli(inputs["kept"], inputs["tokenizer"], tmp_path / "shards")
    assert proc.returncode == 0, proc.stderr[-2000:]
    prefixes = shard_prefixes(tmp_path / "shards")
    assert len(prefixes) == 2
    for prefix in prefixes:
        meta = read_shard_meta(prefix)
        assert meta["tokenizer"] == fingerprint_of(inputs["tokenizer"])
        assert meta["eos_id"] == 0 and meta["tokenizer_path"] == str(inputs["tokenizer"].resolve())
    summary = json.loads((tmp_path / "shards" / "summary.json").read_text())
    assert summary["tokenizer_sha256"] == fingerprint_of(inputs["tokenizer"])["sha256"]


def test_rerun_after_the_tokenizer_was_retrained_is_refused_with_both_hashes(inputs, tmp_path):
    tok = shutil.copytree(inputs["tokenizer"], tmp_path / "tok")
    out = tmp_path / "shards"
    assert tokenize_cli(inputs["kept"], tok, out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.glob("*.bin")}
    old = fingerprint_of(tok)
    train_tokenizer(TrainTokenizerConfig(input=inputs["kept"], output=tok, vocab_size=350))  # same path, new ids
    new = fingerprint_of(tok)
    msg = one_line_error(tokenize_cli(inputs["kept"], tok, out))
    assert f"sha256 {old['sha256'][:12]} (vocab 400" in msg and f"sha256 {new['sha256'][:12]} (vocab 350" in msg
    assert {p.name: p.read_bytes() for p in out.glob("*.bin")} == before  # nothing half-replaced


def _public_tokenizer(folder: Path, texts: list[str]) -> Path:
    """A tokenizer shaped like a public model's (its own special tokens and order, `</s>` as EOS)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=420, special_tokens=PUBLIC_SPECIALS,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                            additional_special_tokens=PUBLIC_SPECIALS[3:]).save_pretrained(str(folder))
    return folder


def test_tokenize_with_a_public_models_tokenizer_ends_documents_with_its_eos(inputs, tmp_path):
    hf_dir = _public_tokenizer(tmp_path / "public", python_texts())
    proc = tokenize_cli(inputs["kept"], hf_dir, tmp_path / "shards")
    assert proc.returncode == 0, proc.stderr[-2000:]
    eos = PUBLIC_SPECIALS.index("</s>")
    docs = [d for p in shard_prefixes(tmp_path / "shards") for d in shard_documents(p)]
    assert len(docs) == len(python_texts()) and all(d[-1] == eos and eos not in d[:-1] for d in docs)
    meta = read_shard_meta(shard_prefixes(tmp_path / "shards")[0])
    assert meta["tokenizer"] == fingerprint_of(hf_dir) and meta["eos_id"] == eos
    assert meta["tokenizer"]["special_ids"]["<fim_prefix>"] == 3  # not StarCoder's 1


@pytest.mark.slow  # tokenizes, then trains through the console script
def test_starcoder_recipe_runs_on_new_data_from_a_public_checkpoint(inputs, tmp_path):
    """`data tokenize --tokenizer HF_DIR` then `finetune continue --from HF_DIR`: the shards'
    fingerprint is the model's own; our tokenizer's shards are refused for the same model."""
    import torch
    import yaml
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    hf_dir = _public_tokenizer(tmp_path / "public", python_texts())
    torch.manual_seed(0)
    GPTBigCodeForCausalLM(GPTBigCodeConfig(vocab_size=420, n_positions=96, n_embd=64, n_layer=2, n_head=4,
                                           bos_token_id=0, eos_token_id=1)).save_pretrained(str(hf_dir))
    assert tokenize_cli(inputs["kept"], hf_dir, tmp_path / "theirs").returncode == 0
    assert tokenize_cli(inputs["kept"], inputs["tokenizer"], tmp_path / "ours").returncode == 0

    def config(shards: Path, out: Path) -> Path:
        path = out.with_suffix(".yaml")
        path.write_text(yaml.safe_dump({
            "preset": None, "out_dir": str(out), "train_steps": 2, "micro_batch_size": 2, "log_interval": 1,
            "eval_interval": None, "tensorboard": False, "threads": 1, "model": {"seq_length": 64},
            "data": {"sources": [{"path": str(shards)}], "valid_fraction": 0.05},
            "optim": {"warmup_steps": 1, "lr": 0.003}}))
        return path

    proc = starforge("finetune", "continue", "--from", str(hf_dir), "--config", str(config(tmp_path / "theirs",
                                                                                          tmp_path / "run")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "run" / "checkpoints" / "iter_0000002" / "meta.json").read_text())
    assert meta["tokenizer_fingerprint"] == fingerprint_of(hf_dir)
    msg = one_line_error(starforge("finetune", "continue", "--from", str(hf_dir), "--config",
                                   str(config(tmp_path / "ours", tmp_path / "refused"))))
    assert str(inputs["tokenizer"].resolve()) in msg and str(hf_dir) in msg


def test_gzip_helper_writes_real_gzip(tmp_path):
    write_kept(tmp_path / "kept", ["a = 1\n"], files=1)
    with gzip.open(tmp_path / "kept" / "00000.jsonl.gz", "rt") as fh:
        assert json.loads(fh.readline())["text"] == "a = 1\n"
