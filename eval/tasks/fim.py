"""Fill-in-the-middle prompting shared by the infilling tasks (no task is registered here).

The prompt is prefix-suffix-middle (PSM) with the sentinel tokens the model was trained with:
`<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>`, the order and spelling of StarCoder
(arXiv 2305.06161) and of bigcode-evaluation-harness's `starcoder_fim`; SantaCoder spelled them
with hyphens (`<fim-prefix>`, harness `santacoder_fim`). It is the PSM layout our
`pretrain/fim.py` trains on. The generation is decoded with special tokens kept, the prompt cut
off, and the rest cut at the first stop word (EOS and the file separators), as the harness's
`SantaCoderFIM.postprocess_generation` does: a generation is the middle alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from eval.tasks import Problem, Task
from starforge.formats.tokenizer import EOD, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
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
