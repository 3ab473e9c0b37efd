"""HumanEval-Infilling: HumanEval's canonical solutions with a span masked out, to be filled in
from the code before and after it. Bavarian et al., "Efficient Training of Language Models to
Fill in the Middle", arXiv 2207.14255 (random-span); single-line and multi-line come from
Fried et al., "InCoder", arXiv 2204.05999. https://github.com/openai/human-eval-infilling

Four benchmarks, one task each: single-line (1,033 problems), multi-line (5,815), random-span
(1,640) and random-span-light (164). Records are openai/human-eval-infilling's: `task_id`,
`prompt` (the code before the span), `suffix`, `canonical_solution` (the span), `test`,
`entry_point`. Scoring is that repository's `check_correctness`: the program
`prompt + completion + suffix + "\\n" + test + "\\n" + f"check({entry_point})"` runs in the
sandbox, pass@k over problems. The `human-eval-infilling` name on PyPI is an empty placeholder
(version 2.15.0 ships no code and no data), so the data comes from `--load_data_path`: the
repository's `data/` directory or one of its `.jsonl.gz` files, or a `datasets` directory of the
hub copy `loubnabnl/humaneval_infilling`; without a path, that hub copy.

Prompting is PSM with StarCoder's FIM tokens (see `eval/tasks/fim.py`); the generation is the
middle alone. bigcode-evaluation-harness has no task for this benchmark; for single-line we
also cut the middle after its first newline, as InCoder's single-line evaluation does, so a
model that keeps writing past the line is judged on the line.
"""

from __future__ import annotations

from eval.tasks import Problem, register_task
from eval.tasks.fim import FimTask
from eval.tasks.loading import load_records
from starforge.sandbox import Program, stop_at_stop_words

REQUIRED = {"task_id", "prompt", "suffix", "canonical_solution", "test", "entry_point"}


class HumanEvalInfillingTask(FimTask):
    """Base: `benchmark` is the hub config (`HumanEval-<benchmark>`), `file` the repository's
    data file stem where it differs."""

    benchmark = ""
    file = ""

    def problems(self) -> list[Problem]:
        how = (f"pass --load_data_path with openai/human-eval-infilling's data/ directory or its "
               f"HumanEval-{self.file or self.benchmark}.jsonl.gz (github.com/openai/human-eval-infilling), or a "
               f"directory saved by datasets (load_dataset('loubnabnl/humaneval_infilling', "
               f"'HumanEval-{self.benchmark}').save_to_disk(DIR))")
        records = load_records(self.data_path, task=self.name, how=how, required=REQUIRED,
                               configs=(f"HumanEval-{self.file or self.benchmark}", f"HumanEval-{self.benchmark}"),
                               hub=("loubnabnl/humaneval_infilling", f"HumanEval-{self.benchmark}"))
        return [Problem(task_id=r["task_id"], prompt=r["prompt"], test=r["test"], entry_point=r["entry_point"],
                        canonical_solution=r["canonical_solution"], extra={"suffix": r["suffix"]})
                for r in records]

    def reference(self, problem: Problem) -> str:
        return "\n" + problem.test + "\n" + f"check({problem.entry_point})"

    def program(self, generation: str, problem: Problem) -> Program:
        return Program(problem.prompt + generation + problem.extra["suffix"], self.reference(problem))


@register_task("humaneval-infilling-single-line")
class SingleLineInfillingTask(HumanEvalInfillingTask):
    """One masked line of each canonical solution (arXiv 2204.05999, 2207.14255)."""

    benchmark = "SingleLineInfilling"
    stop_words = FimTask.stop_words + ("\n",)  # generation stops at the end of the line

    def postprocess(self, generation: str, problem: Problem, extra_stop_words: tuple[str, ...] = ()) -> str:
        middle = stop_at_stop_words(generation[len(self.prompt(problem)):], FimTask.stop_words + extra_stop_words)
        end = middle.find("\n")
        return middle if end == -1 else middle[:end + 1]  # the line keeps its newline


@register_task("humaneval-infilling-multi-line")
class MultiLineInfillingTask(HumanEvalInfillingTask):
    """A masked block of consecutive lines (arXiv 2204.05999, 2207.14255)."""

    benchmark = "MultiLineInfilling"


@register_task("humaneval-infilling-random-span")
class RandomSpanInfillingTask(HumanEvalInfillingTask):
    """A masked span at random character offsets (arXiv 2207.14255)."""

    benchmark = "RandomSpanInfilling"
    file = "RandomSpan"


@register_task("humaneval-infilling-random-span-light")
class RandomSpanLightInfillingTask(HumanEvalInfillingTask):
    """One random span per problem, 164 problems (arXiv 2207.14255)."""

    benchmark = "RandomSpanInfillingLight"
    file = "RandomSpanLight"

