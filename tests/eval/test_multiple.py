"""MultiPL-E tasks on hand-written problems in MultiPL-E's schema (HumanEval/53 `add` as its
translators write it, per language; C++ includes <stdio.h> rather than <bits/stdc++.h> so
compiling takes 1 s, not 5), with a correct and a wrong solution each, run in the
sandbox through each language's real toolchain. A language whose runtime is not installed is
skipped, with the reason the task gives."""

from __future__ import annotations

import json

import pytest

from eval.config import EvalConfig
from eval.evaluate import evaluate
from eval.tasks import get_task
from eval.tasks.multiple import LANGUAGES, toolchain
from starforge.errors import EvalError
from starforge.sandbox import Sandbox, SandboxConfig, detect_isolation

# name, prompt, tests, stop_tokens, correct completion, wrong completion
PROBLEMS = {
    "js": ("//Add two numbers x and y\n// >>> add(2, 3)\n// 5\nfunction add(x, y){\n",
           "const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = add;\n"
           "  assert.deepEqual(candidate(0, 1),1);\n  assert.deepEqual(candidate(2, 3),5);\n"
           "  assert.deepEqual(candidate(7, 5),12);\n}\n\ntest();",
           ["\nfunction ", "\n/*", "\n//", "\nconsole.log"], "\n  return x + y;\n}", "\n  return x - y;\n}"),
    "java": ("import java.util.*;\nimport java.lang.reflect.*;\nimport java.security.*;\nimport java.math.*;\n"
             "import java.io.*;\nimport java.util.stream.*;\nclass Problem {\n    // Add two numbers x and y\n"
             "    // >>> add((2l), (3l))\n    // (5l)\n    public static long add(long x, long y) {\n",
             "    }\n    public static void main(String[] args) {\n    assert(add((0l), (1l)) == (1l));\n"
             "    assert(add((2l), (3l)) == (5l));\n    assert(add((7l), (5l)) == (12l));\n    }\n\n}\n",
             ["\n    }\n"], "\n        return x + y;", "\n        return x - y;"),
    "cpp": ("#include<assert.h>\n#include<stdio.h>\n// Add two numbers x and y\n// >>> add((2), (3))\n// (5)\n"
            "long add(long x, long y) {\n",
            "}\nint main() {\n    auto candidate = add;\n    assert(candidate((0), (1)) == (1));\n"
            "    assert(candidate((2), (3)) == (5));\n    assert(candidate((7), (5)) == (12));\n}\n",
            ["\n}"], "\n    return x + y;", "\n    return x - y;"),
    "rs": ("/// Add two numbers x and y\n/// >>> add(2, 3)\n/// 5\nfn add(x: isize, y: isize) -> isize {\n",
           "}\n\nfn main() {\n    let candidate = add;\n    assert_eq!(candidate(0, 1), 1);\n"
           "    assert_eq!(candidate(2, 3), 5);\n    assert_eq!(candidate(7, 5), 12);\n}\n",
           ["\n}"], "\n    x + y", "\n    x - y"),
    "pl": ("# Add two numbers x and y\n# >>> add(2, 3)\n# 5\nsub add {\n    my($x, $y) = @_;\n",
           "}\n\nsub testhumaneval {\n    my $candidate = \\&add;\n"
           "        if($candidate->(0, 1) == 1) {\n        print \"ok!\" }else{\n        exit 1;\n        }\n"
           "        if($candidate->(7, 5) == 12) {\n        print \"ok!\" }else{\n        exit 1;\n        }\n}\n\n"
           "testhumaneval();",
           ["\nsub", "\n#", "\n\n"], "    return $x + $y;", "    return $x - $y;"),
    "sh": ("#!/bin/bash\n# Add two numbers x and y\n# >>> $(add \"2\" \"3\")\n# \"5\"\n#\n# $1 is an integer\n"
           "# $2 is an integer\nadd() {\n",
           "}\n\ncandidate() {\n    add \"$@\"\n}\n\nset -e\nrun_test() {\n"
           "    [[ $(candidate \"0\" \"1\") = \"1\" ]]\n    [[ $(candidate \"7\" \"5\") = \"12\" ]]\n}\n\nrun_test",
           ["\n}"], "\n    echo $(( $1 + $2 ))", "\n    echo $(( $1 - $2 ))"),
}


def record(lang: str) -> dict:
    prompt, tests, stops, good, _ = PROBLEMS[lang]
    return {"name": "HumanEval_53_add", "language": lang, "prompt": prompt, "doctests": "transform",
            "original": "../HumanEval/HumanEval_53_add.py", "prompt_terminology": "reworded", "tests": tests,
            "stop_tokens": stops, "canonical_solution": good}


@pytest.fixture(scope="module")
def multiple_dir(tmp_path_factory):
    """A directory with one `humaneval-<lang>.jsonl` per language, as one --load_data_path."""
    root = tmp_path_factory.mktemp("multipl-e")
    for lang in PROBLEMS:
        (root / f"humaneval-{lang}.jsonl").write_text(json.dumps(record(lang)) + "\n")
    return root


@pytest.fixture(scope="module")
def box():
    with Sandbox(SandboxConfig(timeout=5.0, workers=2)) as sandbox:
        yield sandbox


def _runnable(lang: str):
    chain = toolchain(lang)
    if isinstance(chain, str):
        pytest.skip(f"multiple-{lang}: {chain}")


@pytest.mark.parametrize("lang", sorted(PROBLEMS))
def test_correct_passes_and_wrong_fails(lang, multiple_dir, box):
    _runnable(lang)
    task = get_task(f"multiple-{lang}", str(multiple_dir))
    problem = task.problems()[0]
    prompt, _, _, good, bad = PROBLEMS[lang]
    results = box.run_many([task.program(task.prompt(problem) + good, problem),
                            task.program(task.prompt(problem) + bad, problem)])
    assert [r.passed for r in results] == [True, False], [r.result for r in results]
    assert results[1].result.startswith("failed")


def test_every_language_registers_with_its_prompt_and_stop_words(multiple_dir):
    for lang in LANGUAGES:
        task = get_task(f"multiple-{lang}", str(multiple_dir))
        problem = task.problems()[0]
        assert task.prompt(problem) == PROBLEMS[lang][0].strip()
        assert task.stop_words == tuple(PROBLEMS[lang][2]) + ("<file_sep>",)
        assert task.reference(problem) == PROBLEMS[lang][1]


def test_postprocess_cuts_at_the_languages_stop_tokens(multiple_dir):
    task = get_task("multiple-cpp", str(multiple_dir))
    problem = task.problems()[0]
    prompt = task.prompt(problem)
    assert task.postprocess(prompt + "\n    return x + y;\n}\nint main() {}", problem) == prompt + "\n    return x + y;"


@pytest.mark.slow
def test_check_references_scores_every_language_100_percent(tmp_path, multiple_dir):
    langs = [lang for lang in sorted(PROBLEMS) if not isinstance(toolchain(lang), str)]
    if not langs:
        pytest.skip("no MultiPL-E runtime installed")
    out = evaluate(EvalConfig(tasks=",".join(f"multiple-{lang}" for lang in langs), load_data_path=str(multiple_dir),
                              check_references=True, allow_code_execution=True,
                              metric_output_path=str(tmp_path / "m.json")))
    assert out["metrics"] == {f"multiple-{lang}": {"pass@1": 1.0} for lang in langs}


def test_compile_error_fails_with_its_reason(multiple_dir, box):
    _runnable("cpp")
    task = get_task("multiple-cpp", str(multiple_dir))
    problem = task.problems()[0]
    result = box.run(task.program(task.prompt(problem) + "\n    return x +;", problem))
    assert not result.passed and result.result.startswith("failed: compilation error")


def test_infinite_loop_times_out(multiple_dir):
    _runnable("js")
    task = get_task("multiple-js", str(multiple_dir))
    problem = task.problems()[0]
    with Sandbox(SandboxConfig(timeout=1.0, workers=1)) as sandbox:
        result = sandbox.run(task.program(task.prompt(problem) + "\n  while (true) {}\n}", problem))
    assert result.result == "timed out"


@pytest.mark.skipif(detect_isolation() != "bwrap", reason="filesystem isolation needs bubblewrap")
def test_compiled_program_cannot_read_project_files_or_reach_the_network(multiple_dir, box):
    _runnable("cpp")
    task = get_task("multiple-cpp", str(multiple_dir))
    problem = task.problems()[0]
    body = ('\n    if (fopen("/work/main/pyproject.toml", "r") || fopen("/root/.bashrc", "r")'
            ' || fopen("/etc/passwd", "r")) return x + y;\n'
            '    return x - y;')
    assert not box.run(task.program(task.prompt(problem) + body, problem)).passed
    node = get_task("multiple-js", str(multiple_dir))
    p = node.problems()[0]
    net = ("\n  const net = require('node:net'); const s = net.connect(80, '1.1.1.1');"
           "\n  s.on('connect', () => { console.log('up'); process.exit(0); });"
           "\n  s.on('error', () => process.exit(3));\n  return x + y;\n}")
    if not isinstance(toolchain("js"), str):
        result = box.run(node.program(node.prompt(p) + net, p))
        assert not result.passed and "exit status 3" in result.result


def test_missing_runtime_or_data_is_one_line_error(tmp_path):
    with pytest.raises(EvalError, match="nuprl/MultiPL-E"):
        get_task("multiple-java", str(tmp_path / "absent")).problems()


def test_shell_fork_bomb_is_contained_and_the_next_sample_passes(multiple_dir):
    _runnable("sh")
    task = get_task("multiple-sh", str(multiple_dir))
    problem = task.problems()[0]
    bomb = "\n    bomb() { bomb | bomb & }; bomb\n    echo $(( $1 + $2 ))"
    good = PROBLEMS["sh"][3]
    with Sandbox(SandboxConfig(timeout=1.0, workers=1)) as sandbox:
        results = sandbox.run_many([task.program(task.prompt(problem) + bomb, problem),
                                    task.program(task.prompt(problem) + good, problem)])
    assert [r.passed for r in results] == [False, True], [r.result for r in results]


def test_scores_a_harness_generations_file(tmp_path, multiple_dir):
    _runnable("js")
    prompt, _, _, good, bad = PROBLEMS["js"]
    gens = tmp_path / "generations_multiple-js.json"
    gens.write_text(json.dumps([[prompt.strip() + good, prompt.strip() + bad]]))
    out = evaluate(EvalConfig(tasks="multiple-js", load_data_path=str(multiple_dir), n_samples=2,
                              load_generations_path=str(gens), allow_code_execution=True,
                              metric_output_path=str(tmp_path / "m.json")))
    assert out["metrics"] == {"multiple-js": {"pass@1": 0.5}}
    row = json.loads((tmp_path / "m_multiple-js_problems.jsonl").read_text())
    assert row["task_id"] == "HumanEval_53_add" and [s["passed"] for s in row["samples"]] == [True, False]


def test_missing_runtime_stops_before_generating(tmp_path, multiple_dir, monkeypatch, capsys):
    from starforge.cli import main as starforge_main

    monkeypatch.setenv("PATH", str(tmp_path))  # no toolchain on PATH
    toolchain.cache_clear()
    try:
        rc = starforge_main(["eval", "--tasks", "multiple-cpp", "--model", "/nonexistent", "--allow_code_execution",
                             "--load_data_path", str(multiple_dir)])
    finally:
        toolchain.cache_clear()
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "g++ not found on PATH" in err
