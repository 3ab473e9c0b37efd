"""SantaCoder's single-line fill-in-the-middle task: 4,792 problems in Python, JavaScript and
Java, built from MultiPL-E's HumanEval translations by masking one line of a solution. Allal et
al., "SantaCoder: don't reach for the stars!", arXiv 2301.03988; StarCoder (arXiv 2305.06161)
reports the same task.

As bigcode-evaluation-harness's `bigcode_eval/tasks/santacoder_fim.py`: records of
`bigcode/santacoder-fim-task` (`name`, `language`, `prompt`, `suffix`, `canonical_solution`,
`tests`; split `train`), a PSM prompt, the generation cut after the prompt at the first stop word,
and exact match of `generation.strip()` against `canonical_solution.strip()`, reported per
language as `"py Exact Match"`, `"js Exact Match"`, `"java Exact Match"` (0 for a language with
no problem selected). Nothing is executed. `santacoder_fim` uses SantaCoder's hyphenated FIM
tokens, `starcoder_fim` StarCoder's (ours). No package ships the data: `--load_data_path` takes
the hub snapshot, its Parquet file, a JSON lines file of the records, or a `save_to_disk`
directory; without it, the hub.
"""

from __future__ import annotations

from typing import Any

from eval.tasks import Problem, register_task
from eval.tasks.fim import SANTACODER_FIM, STARCODER_FIM, FimTask
from eval.tasks.loading import load_records
from starforge.formats.tokenizer import EOD

LANGUAGES = ("py", "js", "java")
REQUIRED = {"name", "language", "prompt", "suffix", "canonical_solution"}


@register_task("santacoder_fim")
class SantaCoderFimTask(FimTask):
    """Single-line FIM exact match in py/js/java (arXiv 2301.03988), SantaCoder's FIM tokens."""

    fim = SANTACODER_FIM
    stop_words = (EOD, "<|filename|>")
    requires_execution = False

    def problems(self) -> list[Problem]:
        how = ("pass --load_data_path with a copy of bigcode/santacoder-fim-task (its data/*.parquet file, "
               "a JSON lines file of its records, or a directory saved by datasets: "
               "load_dataset('bigcode/santacoder-fim-task').save_to_disk(DIR))")
        records = load_records(self.data_path, task=self.name, how=how, required=REQUIRED, split="train",
                               hub=("bigcode/santacoder-fim-task", None))
        return [Problem(task_id=r["name"], prompt=r["prompt"], test=r.get("tests") or "",
                        canonical_solution=r["canonical_solution"],
                        extra={"suffix": r["suffix"], "language": r["language"]}) for r in records]

    def reference(self, problem: Problem) -> str:
        return problem.canonical_solution

    def process_results(self, problems: list[Problem],
                        generations: list[list[str]]) -> tuple[dict[str, float], list[dict[str, Any]]]:
        accurate = dict.fromkeys(LANGUAGES, 0)
        count = dict.fromkeys(LANGUAGES, 0)
        records = []
        for index, (problem, gens) in enumerate(zip(problems, generations)):
            language = problem.extra["language"]
            reference = problem.canonical_solution.strip()
            matches = [g.strip() == reference for g in gens]
            accurate[language] = accurate.get(language, 0) + sum(matches)
            count[language] = count.get(language, 0) + len(gens)
            records.append({"task_id": problem.task_id, "index": index, "language": language, "n": len(gens),
                            "correct": sum(matches),
                            "samples": [{"completion_id": j, "exact_match": m} for j, m in enumerate(matches)]})
        metrics = {f"{lang} Exact Match": accurate[lang] / count[lang] if count[lang] else 0 for lang in LANGUAGES}
        return metrics, records


@register_task("starcoder_fim")
class StarCoderFimTask(SantaCoderFimTask):
    """The same task (arXiv 2301.03988) prompted with StarCoder's FIM tokens (arXiv 2305.06161)."""

    fim = STARCODER_FIM
    stop_words = (EOD, "<|filename|>", "<file_sep>")
