"""Fill-in-the-middle prompting shared by the infilling tasks (no task is registered here).

The prompt is prefix-suffix-middle (PSM) with the sentinel tokens the model was trained with:
`<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>`, the order and spelling of StarCoder
(arXiv 2305.06161) and of bigcode-evaluation-harness's `starcoder_fim`; SantaCoder spelled them
with hyphens (`<fim-prefix>`, harness `santacoder_fim`). It is the PSM layout our
`pretrain/fim.py` trains on. The generation is decoded with special tokens kept, the prompt cut
off, and the rest cut at the first stop word (EOS and the file separators), as the harness's
`SantaCoderFIM.postprocess_generation` does: a generation is the middle alone.

Sentinels and the tokenizer (`FimTask.prompt_tokenization`, entered around generation):

- the model's tokenizer must have each sentinel as one token, and when the model folder's
  export_report.json records the fingerprint of the tokenizer the model was trained with
  (`starforge pretrain export`, from the shards' fingerprint: one FIM format from data to eval),
  the folder's tokenizer must be that one; otherwise a one-line EvalError before generating;
- our tokenizers store `split_special_tokens: true` (the escaping policy of
  starforge/formats/tokenizer.py: data never forges sentinels), under which the prompt's
  `<fim_prefix>` would be tokenized as plain text, pieces the model never saw as a sentinel. For
  these prompts the flag is off, so the sentinels are parsed as the harness parses them with
  StarCoder's tokenizer (which does not set the flag); a benchmark's code holding a sentinel
  literally would be read as that sentinel, as in the harness.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.tasks import Problem, Task
from starforge.errors import EvalError
from starforge.formats.tokenizer import EOD, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, tokenizer_fingerprint
from starforge.sandbox import stop_at_stop_words


@dataclass(frozen=True)
class FimTokens:
    prefix: str
    suffix: str
    middle: str


STARCODER_FIM = FimTokens(FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)
SANTACODER_FIM = FimTokens("<fim-prefix>", "<fim-suffix>", "<fim-middle>")


class FimTask(Task):
    """A task whose problems are (prefix `prompt`, `suffix`, middle `canonical_solution`)."""

    fim: FimTokens = STARCODER_FIM
    stop_words = (EOD, "<|filename|>", "<file_sep>")

    def prompt(self, problem: Problem) -> str:
        return f"{self.fim.prefix}{problem.prompt}{self.fim.suffix}{problem.extra['suffix']}{self.fim.middle}"

    def postprocess(self, generation: str, problem: Problem, extra_stop_words: tuple[str, ...] = ()) -> str:
        return stop_at_stop_words(generation[len(self.prompt(problem)):], self.stop_words + extra_stop_words)

    def canonical_generation(self, problem: Problem) -> str:
        return problem.canonical_solution

    @contextlib.contextmanager
    def prompt_tokenization(self, tokenizer: Any) -> Iterator[None]:
        check_fim_tokenizer(tokenizer, self.fim, self.name)
        previous = tokenizer.split_special_tokens
        tokenizer.split_special_tokens = False
        try:
            yield
        finally:
            tokenizer.split_special_tokens = previous


def check_fim_tokenizer(tokenizer: Any, fim: FimTokens, task: str) -> None:
    """EvalError unless `tokenizer` (a transformers tokenizer loaded from the model folder) has
    every sentinel as one token and is the tokenizer the folder's export_report.json records."""
    folder = Path(str(getattr(tokenizer, "name_or_path", "")))
    vocab = tokenizer.get_vocab()
    missing = [tok for tok in (fim.prefix, fim.suffix, fim.middle) if tok not in vocab]
    if missing:
        raise EvalError(f"{task}: the model's tokenizer ({folder}) has no {missing[0]} token; this task prompts "
                        "with these FIM sentinels, so evaluate a model trained with them")
    report = folder / "export_report.json"
    recorded = None
    if report.is_file():
        try:
            recorded = json.loads(report.read_text(encoding="utf-8")).get("tokenizer_fingerprint")
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise EvalError(f"{report}: not an export report ({type(exc).__name__}); re-export the model with "
                            "`starforge pretrain export`") from None
    if recorded:
        mine = tokenizer_fingerprint(tokenizer)
        if mine["sha256"] != recorded.get("sha256"):
            raise EvalError(f"{task}: {folder}'s tokenizer is sha256 {mine['sha256'][:12]} (vocab "
                            f"{mine['vocab_size']}), but the model was trained with sha256 "
                            f"{str(recorded.get('sha256'))[:12]} (vocab {recorded.get('vocab_size')}, its "
                            f"{report.name}); put the export's own tokenizer files back")
