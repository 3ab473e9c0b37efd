"""The tokenizer folder, StarCoder's special tokens, and how text is kept from forging them
(docs/formats.md, "Tokenizer").

A tokenizer is a Hugging Face folder (`tokenizer.json`, `tokenizer_config.json`) written by
`starforge data train-tokenizer` (`save_tokenizer`): byte-level BPE, the 19 special tokens of
bigcode/starcoder's tokenizer at ids 0..18 in `SPECIAL_TOKENS` order; `<|endoftext|>` (id 0) is
end-of-document, beginning-of-sequence and unknown token at once. Every stage that reads the
folder with `tokenizers` calls `load_tokenizer` (data tokenize and the funnel's token count,
pretrain); model folders are read by transformers' `AutoTokenizer`, which takes the policy
below from `tokenizer_config.json`.

Escaping policy. Source code can contain these strings literally: this very file does, and so
does any FIM or tokenizer code. If encoding turned them into special ids, a file could forge
document boundaries or FIM sentinels, and decoding would not give the file back. So:

- Text is always encoded with `encode_special_tokens = True` (tokenizers) /
  `split_special_tokens=True` (transformers): a literal `<fim_prefix>` in a file becomes ordinary
  byte-level BPE tokens and decodes back to the same characters.
- Sentinels are inserted by id, never by string: `<|endoftext|>` after each document by the
  shard writer's post-processor, FIM sentinels by pretrain's FIM transform, metadata prefixes and
  notebook markers by the shard writer.
- tokenizer_config.json stores `split_special_tokens: true` (AutoTokenizer applies it);
  tokenizer.json cannot store `encode_special_tokens`, so `load_tokenizer` sets it on every load
  (`escape_special_tokens` for a tokenizer another library loaded, `encode_text` to encode one
  piece under the policy whatever the tokenizer's flag).

Consequence: a special id in a shard is always a real sentinel, and
`decode(encode(text).ids) == text` for every kept file. The one place sentinels are parsed from
a string is an eval FIM prompt (`eval/tasks/fim.py`), which is ours, not data.

Fingerprint (`tokenizer_fingerprint`, `fingerprint_of`): what makes two tokenizers give the same
ids. `data tokenize` writes it beside every shard (formats/shards.py), `pretrain train` and
`finetune continue` refuse shards of another tokenizer than the model's and store it in each
checkpoint's meta.json, export copies it into export_report.json, and eval's FIM tasks check
the model folder's tokenizer against it where they take their sentinels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from starforge.errors import FormatError

SPECIAL_TOKENS = (
    "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
    "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>",
)
"""StarCoder's special tokens, in the order of their ids 0..18 in bigcode/starcoder's tokenizer."""
EOD = SPECIAL_TOKENS[0]
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD = SPECIAL_TOKENS[1:5]
COMMIT_TOKENS = SPECIAL_TOKENS[15:18]
"""`<commit_before>`, `<commit_msg>`, `<commit_after>`: StarCoder's commit layout (SFT's commit records)."""
CHAT_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
"""StarChat's chat tokens (HuggingFaceH4/starchat-alpha), not StarCoder's: `finetune` adds them
to a model that lacks them, and its chat template uses them."""

HOW = "pass the tokenizer folder written by `starforge data train-tokenizer`"


def escape_special_tokens(tokenizer: Tokenizer) -> Tokenizer:
    """Apply the escaping policy to a loaded `tokenizers.Tokenizer` (in place; returned for chaining)."""
    tokenizer.encode_special_tokens = True
    return tokenizer


def encode_text(tokenizer: Tokenizer, text: str) -> list[int]:
    """Ids of `text` as plain text (no special token matched, none added), whatever the
    tokenizer's own flag, which is left as it was."""
    if not text:
        return []
    previous = tokenizer.encode_special_tokens
    tokenizer.encode_special_tokens = True
    try:
        return tokenizer.encode(text, add_special_tokens=False).ids
    finally:
        tokenizer.encode_special_tokens = previous


def tokenizer_file(path: str | Path) -> Path:
    """The tokenizer.json a path names: the folder's, or the path itself."""
    path = Path(path)
    return path / "tokenizer.json" if path.is_dir() else path


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The `tokenizers.Tokenizer` of a tokenizer folder (or of its tokenizer.json), with the
    escaping policy applied; a missing or unreadable file is a one-line FormatError."""
    file = tokenizer_file(path)
    if not file.is_file():
        raise FormatError(f"{path}: no tokenizer.json; {HOW}")
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as exc:  # tokenizers raises a bare Exception on a file it cannot parse
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"{file}: not a tokenizer.json ({reason}); {HOW}") from None
    return escape_special_tokens(tokenizer)


def eos_token_of(path: str | Path) -> str:
    """The end-of-document token of a tokenizer folder: `eos_token` of its tokenizer_config.json
    (as transformers reads it: a string or an `{"content": ...}` object), `<|endoftext|>` when it
    names none (ours, and a bare tokenizer.json). A public model's folder (`data tokenize
    --tokenizer HF_DIR`) so ends its documents with its own EOS."""
    config = Path(path) / "tokenizer_config.json"
    if not config.is_file():
        return EOD
    try:
        eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"{config}: not a tokenizer_config.json ({reason}); {HOW}") from None
    if isinstance(eos, dict):
        eos = eos.get("content")
    return eos if isinstance(eos, str) and eos else EOD


def save_tokenizer(tokenizer: Tokenizer, folder: Path, model_max_length: int) -> None:
    """Write `tokenizer` as a Hugging Face folder that `AutoTokenizer.from_pretrained` loads with
    the escaping policy (`split_special_tokens: true`) and `<|endoftext|>` as EOS, BOS and UNK."""
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=EOD, eos_token=EOD, unk_token=EOD,
                                 split_special_tokens=True, clean_up_tokenization_spaces=False,
                                 model_max_length=model_max_length)
    hf.save_pretrained(str(folder))
    # transformers 5 writes its own backend class name, unknown to transformers 4; the generic
    # fast class loads the same tokenizer.json in both.
    config_path = Path(folder) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, Any]:
    """What makes two tokenizers give the same ids, as a small dict to store beside data.

    `sha256` hashes a canonical JSON of the model's vocabulary (token -> id), its merges (in
    priority order) and the added tokens (id, text, special?), so it ignores what does not change
    ids (the escaping flag, which tokenizer.json cannot store anyway, JSON layout, and the merges'
    two spellings across `tokenizers` versions, "a b" and ["a", "b"]). Pre-tokenizer and
    normalizer are not hashed: every starforge tokenizer has StarCoder's. `special_ids` gives the
    id of each of StarCoder's special tokens the tokenizer has (FIM sentinels included), so a
    reader can say which sentinel moved. Takes a `tokenizers.Tokenizer` or a transformers fast
    tokenizer (its backend)."""
    tokenizer = getattr(tokenizer, "backend_tokenizer", tokenizer)
    data = json.loads(tokenizer.to_str())
    model = data.get("model") or {}
    vocab = model.get("vocab") or {}
    merges = [m.split(" ", 1) if isinstance(m, str) else list(m) for m in model.get("merges") or []]
    canonical = {
        "model": model.get("type"),
        "vocab": sorted(vocab.items(), key=lambda kv: (kv[1], kv[0])) if isinstance(vocab, dict) else vocab,
        "merges": merges,
        "added_tokens": sorted((t["id"], t["content"], bool(t.get("special"))) for t in data.get("added_tokens") or []),
    }
    digest = hashlib.sha256(json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    special_ids = {tok: tokenizer.token_to_id(tok) for tok in SPECIAL_TOKENS}
    return {"sha256": digest.hexdigest(), "vocab_size": tokenizer.get_vocab_size(with_added_tokens=True),
            "special_ids": {tok: i for tok, i in special_ids.items() if i is not None}}


def fingerprint_of(path: str | Path) -> dict[str, Any]:
    """`tokenizer_fingerprint` of a tokenizer folder (or its tokenizer.json), loaded with `load_tokenizer`."""
    return tokenizer_fingerprint(load_tokenizer(path))
