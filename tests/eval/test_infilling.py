"""Infilling tasks on data files in their real schemas, built from HumanEval's canonical solutions:
masking a line (or lines, or a span) of a solution gives a problem whose reference is the masked
text, so scoring the references must pass 100%."""

from __future__ import annotations

import gzip
import json

import pytest

from eval.config import EvalConfig
from eval.evaluate import evaluate
from eval.generate import HFBackend
from eval.tasks import get_task
from eval.tasks.humaneval import load_human_eval_problems
from starforge.cli import main as starforge_main
from starforge.errors import EvalError


def _lines(problem):
    return problem.canonical_solution.splitlines(keepends=True)


def infilling_records(kind: str, problems: int = 8) -> list[dict]:
    """openai/human-eval-infilling records (task ids as theirs) from the first `problems` problems."""
    records = []
    for index, p in enumerate(load_human_eval_problems()[:problems]):
        lines = _lines(p)
        if kind == "SingleLine":
            spans = [(j, j) for j in range(min(3, len(lines)))]
        elif kind == "MultiLine":
            spans = [(0, len(lines) - 1)] + ([(1, 2)] if len(lines) > 2 else [])
        else:
            text = p.canonical_solution
            spans = [(len(text) // 3, 2 * len(text) // 3)]
        for a, b in spans:
            if kind == "RandomSpan":
                text = p.canonical_solution
                prefix, middle, suffix, tid = text[:a], text[a:b], text[b:], f"RandomSpanInfilling/HumanEval/{index}/0"
            else:
                prefix, middle, suffix = "".join(lines[:a]), "".join(lines[a:b + 1]), "".join(lines[b + 1:])
                tid = (f"SingleLineInfilling/HumanEval/{index}/L{a}" if kind == "SingleLine"
                       else f"MultiLineInfilling/HumanEval/{index}/L{a}_L{b}")
            records.append({"task_id": tid, "entry_point": p.entry_point, "prompt": p.prompt + prefix,
                            "suffix": suffix, "canonical_solution": middle, "test": p.test})
    return records


@pytest.fixture(scope="module")
def infilling_dir(tmp_path_factory):
    """A copy of openai/human-eval-infilling's data/ directory (gzipped JSON lines)."""
    root = tmp_path_factory.mktemp("human-eval-infilling") / "data"
    root.mkdir()
    for kind, name in (("SingleLine", "SingleLineInfilling"), ("MultiLine", "MultiLineInfilling"),
                       ("RandomSpan", "RandomSpan")):
        with gzip.open(root / f"HumanEval-{name}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for rec in infilling_records(kind):
                fh.write(json.dumps(rec) + "\n")
    return root


FIM_RECORDS = [
    {"name": "HumanEval_0_has_close_elements", "language": "py",
     "prompt": "def add(a, b):\n", "suffix": "\n", "canonical_solution": "    return a + b",
     "tests": "assert add(1, 2) == 3"},
    {"name": "HumanEval_1_add", "language": "js",
     "prompt": "function add(a, b) {\n", "suffix": "\n}\n", "canonical_solution": "  return a + b;",
     "tests": ""},
    {"name": "HumanEval_2_add", "language": "java",
     "prompt": "class Problem {\n    static int add(int a, int b) {\n", "suffix": "\n    }\n}\n",
     "canonical_solution": "        return a + b;", "tests": ""},
]


@pytest.fixture()
def fim_parquet(tmp_path):
    """bigcode/santacoder-fim-task's schema, as the hub's Parquet file."""
    from datasets import Dataset

    path = tmp_path / "train-00000-of-00001.parquet"
    Dataset.from_list(FIM_RECORDS).to_parquet(str(path))
    return path


def _check(tmp_path, tasks: str, data: str) -> dict:
    return evaluate(EvalConfig(tasks=tasks, load_data_path=data, check_references=True, allow_code_execution=True,
                               metric_output_path=str(tmp_path / "m.json")))["metrics"]


def test_single_line_prompt_is_psm_with_starcoder_fim_tokens(infilling_dir):
    task = get_task("humaneval-infilling-single-line", str(infilling_dir))
    problem = task.problems()[0]
    assert problem.task_id == "SingleLineInfilling/HumanEval/0/L0"
    assert task.prompt(problem) == f"<fim_prefix>{problem.prompt}<fim_suffix>{problem.extra['suffix']}<fim_middle>"


def test_single_line_references_score_100_percent(tmp_path, infilling_dir):
    metrics = _check(tmp_path, "humaneval-infilling-single-line", str(infilling_dir))
    assert metrics == {"humaneval-infilling-single-line": {"pass@1": 1.0}}


def test_multi_line_and_random_span_references_score_100_percent(tmp_path, infilling_dir):
    metrics = _check(tmp_path, "humaneval-infilling-multi-line,humaneval-infilling-random-span", str(infilling_dir))
    assert metrics == {"humaneval-infilling-multi-line": {"pass@1": 1.0},
                       "humaneval-infilling-random-span": {"pass@1": 1.0}}


def test_wrong_middles_fail(tmp_path, infilling_dir):
    task = get_task("humaneval-infilling-single-line", str(infilling_dir))
    problems = task.problems()
    gens = [[p.canonical_solution, "    return None\n"] for p in problems]
    path = tmp_path / "g.json"
    path.write_text(json.dumps(gens))
    out = evaluate(EvalConfig(tasks=task.name, load_data_path=str(infilling_dir), n_samples=2,
                              load_generations_path=str(path), allow_code_execution=True,
                              metric_output_path=str(tmp_path / "m.json")))
    assert out["metrics"][task.name] == {"pass@1": 0.5}
    rows = [json.loads(line) for line in (tmp_path / f"m_{task.name}_problems.jsonl").open()]
    assert all([s["passed"] for s in r["samples"]] == [True, False] for r in rows)


def test_single_line_generation_is_the_middle_cut_after_its_line(infilling_dir):
    task = get_task("humaneval-infilling-single-line", str(infilling_dir))
    problem = task.problems()[0]
    prompt = task.prompt(problem)
    assert task.postprocess(prompt + "    x = 1\n    y = 2\n", problem) == "    x = 1\n"
    assert task.postprocess(prompt + "    x = 1<|endoftext|>\n", problem) == "    x = 1"
    multi = get_task("humaneval-infilling-multi-line", str(infilling_dir))
    p = multi.problems()[0]
    assert multi.postprocess(multi.prompt(p) + "a\nb\n<file_sep>c", p) == "a\nb\n"


def test_missing_infilling_data_says_how_to_provide_it(tmp_path, capsys):
    rc = starforge_main(["eval", "--tasks", "humaneval-infilling-multi-line", "--check_references",
                         "--allow_code_execution", "--load_data_path", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "no such file or directory" in err and "human-eval-infilling" in err


def test_santacoder_fim_references_exact_match_every_language(tmp_path, fim_parquet):
    metrics = _check(tmp_path, "santacoder_fim,starcoder_fim", str(fim_parquet))
    expected = {"py Exact Match": 1.0, "js Exact Match": 1.0, "java Exact Match": 1.0}
    assert metrics == {"santacoder_fim": expected, "starcoder_fim": expected}


def test_santacoder_fim_exact_match_strips_like_the_harness(tmp_path, fim_parquet):
    gens = [["  return a + b\n\n", "return a - b"], ["return a + b;"], ["return b + a;"]]
    path = tmp_path / "g.json"
    path.write_text(json.dumps(gens))
    # no --allow_code_execution: the task runs nothing
    out = evaluate(EvalConfig(tasks="santacoder_fim", load_data_path=str(fim_parquet), n_samples=2,
                              load_generations_path=str(path), metric_output_path=str(tmp_path / "m.json")))
    assert out["metrics"]["santacoder_fim"] == {"py Exact Match": 0.5, "js Exact Match": 1.0, "java Exact Match": 0.0}


def test_fim_tokens_per_model_family(fim_parquet):
    santa, star = get_task("santacoder_fim", str(fim_parquet)), get_task("starcoder_fim", str(fim_parquet))
    problem = santa.problems()[0]
    assert santa.prompt(problem) == "<fim-prefix>def add(a, b):\n<fim-suffix>\n<fim-middle>"
    assert star.prompt(problem) == "<fim_prefix>def add(a, b):\n<fim_suffix>\n<fim_middle>"
    assert star.stop_words == ("<|endoftext|>", "<|filename|>", "<file_sep>")


def test_missing_fim_data_is_one_line_error(tmp_path):
    with pytest.raises(EvalError, match="santacoder-fim-task"):
        get_task("santacoder_fim", str(tmp_path / "none.parquet")).problems()


def test_fim_prompt_survives_the_tokenizer_and_generation(tmp_path, tiny_fim_model_dir, infilling_dir):
    """The decoded generation starts with the FIM prompt (special tokens kept), so the middle is
    cut at the right place; the saved generations are middles."""
    backend = HFBackend(tiny_fim_model_dir, device="cpu")
    task = get_task("humaneval-infilling-single-line", str(infilling_dir))
    prompt = task.prompt(task.problems()[0])
    ids = backend.tokenizer(prompt).input_ids
    assert backend.tokenizer.convert_tokens_to_ids("<fim_prefix>") == ids[0]
    assert backend.tokenizer.decode(ids, skip_special_tokens=False) == prompt
    out = evaluate(EvalConfig(model=str(tiny_fim_model_dir), tasks=task.name, load_data_path=str(infilling_dir),
                              limit=2, n_samples=2, batch_size=2, max_length_generation=len(ids) + 48,
                              temperature=0.8, device="cpu", allow_code_execution=True, save_generations=True,
                              save_generations_path=str(tmp_path / "g.json"),
                              metric_output_path=str(tmp_path / "m.json")))
    gens = json.loads((tmp_path / f"g_{task.name}.json").read_text())
    assert len(gens) == 2 and all(len(g) == 2 for g in gens)
    assert all("\n" not in s[:-1] and "<|endoftext|>" not in s for g in gens for s in g)
    assert set(out["metrics"][task.name]) == {"pass@1"}
