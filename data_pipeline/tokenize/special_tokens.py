"""StarCoder's special tokens and how starforge keeps source text from forging them.

The 19 special tokens of bigcode/starcoder's tokenizer sit at ids 0..18 in `SPECIAL_TOKENS` order;
`<|endoftext|>` (id 0) is end-of-document, beginning-of-sequence and unknown token at once.

Escaping policy. Source code can contain these strings literally: this very file does, and so
does any FIM or tokenizer code. If encoding turned them into special ids, a file could forge
document boundaries or FIM sentinels, and decoding would not give the file back. So:

- Text is always encoded with `encode_special_tokens = True` (tokenizers) /
  `split_special_tokens=True` (transformers): a literal `<fim_prefix>` in a file becomes ordinary
  byte-level BPE tokens and decodes back to the same characters.
- Sentinels are inserted by id, never by string: `<|endoftext|>` after each document by the
  shard writer's post-processor, FIM sentinels by pretrain's FIM transform.
- Trained tokenizers store the policy where each library can read it: tokenizer_config.json
  has `split_special_tokens: true` (AutoTokenizer applies it); tokenizer.json cannot store
  `encode_special_tokens`, so code loading it with `tokenizers.Tokenizer.from_file` must call
  `load_escaping_tokenizer` (or set the flag) itself.

Consequence: a special id in a shard is always a real sentinel, and
`decode(encode(text).ids) == text` for every kept file.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

SPECIAL_TOKENS = (
    "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
    "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>",
)
EOD = SPECIAL_TOKENS[0]


def load_escaping_tokenizer(tokenizer_json: str | Path) -> Tokenizer:
    """`Tokenizer.from_file` with the escaping policy applied (the flag is not saved in the file)."""
    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.encode_special_tokens = True
    return tokenizer
