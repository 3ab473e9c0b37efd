"""The vLLM backend (`--backend vllm`) on a real tiny GPTBigCode, against the HF backend: same
prompt tokens, same greedy token ids, the harness's layout, max_length and stop-word rules,
and the same HumanEval files and scores through `evaluate`.

Needs vLLM in this environment (`make vllm`; `make test` installs it); the CPU kernels need a
head size that is a multiple of 32, hence 128 wide / 4 heads here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("vllm")

from eval.generate import HFBackend, SamplingParams, generate, load_backend  # noqa: E402
from starforge.cli import main as starforge_main  # noqa: E402

from .conftest import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny_vllm"), hidden=128, heads=4, layers=2, positions=512)


@pytest.fixture(scope="module")
def vllm_backend(model_dir):
    return load_backend("vllm", model_dir, "fp32", "cpu")


@pytest.fixture(scope="module")
def hf_backend(model_dir):
    return HFBackend(model_dir, device="cpu")


def _prompts(humaneval, n):
    return [humaneval.prompt(p) for p in humaneval.problems()[:n]]


def test_greedy_token_ids_equal_the_hf_backend(vllm_backend, hf_backend, humaneval):
    prompts = _prompts(humaneval, 24)
    stops = (*humaneval.stop_words, hf_backend.eos_token)
    params = SamplingParams(do_sample=False, max_length_generation=max(len(hf_backend.tokenizer(p).input_ids)
                                                                       for p in prompts) + 40)
    hf_ids = hf_backend.generate_ids(prompts, 1, stops, params)
    vllm_ids = vllm_backend.generate_ids(prompts, 1, stops, params)
    differing = [i for i, (a, b) in enumerate(zip(hf_ids, vllm_ids)) if a != b]
    assert not differing, f"prompts {differing} differ"
    # and both fill the prompt's own budget (no stop word in this model's greedy output) or stop early
    assert all(len(rows[0]) <= params.max_length_generation for rows in vllm_ids)


def test_max_length_counts_the_prompt_and_a_full_prompt_comes_back(vllm_backend, humaneval):
    prompt = _prompts(humaneval, 1)[0]
    n = len(vllm_backend.tokenizer(prompt).input_ids)
    (rows,) = vllm_backend.generate_ids([prompt], 2, (), SamplingParams(temperature=1.0, max_length_generation=n + 5))
    eos = vllm_backend.tokenizer.eos_token_id
    assert len(rows) == 2 and all(len(r) == n + 5 or r[-1] == eos for r in rows)
    (rows,) = vllm_backend.generate_ids([prompt], 1, (), SamplingParams(max_length_generation=8))
    assert rows == [vllm_backend.tokenizer(prompt).input_ids[-8:]]  # left-truncated, as the harness


def test_stop_words_end_each_sequence(vllm_backend, humaneval):
    prompt = _prompts(humaneval, 1)[0]
    n = len(vllm_backend.tokenizer(prompt).input_ids)
    stops = tuple(chr(c) for c in range(32, 127)) + ("\n", "\t", "\ufffd")
    (rows,) = vllm_backend.generate_ids([prompt], 2, stops, SamplingParams(temperature=1.0,
                                                                           max_length_generation=n + 50))
    assert all(len(r) <= n + 2 for r in rows)


def test_samples_keep_the_harness_layout_and_the_seed(vllm_backend, humaneval):
    problems = humaneval.problems()[:3]
    prompts = [humaneval.prompt(p) for p in problems]
    params = SamplingParams(temperature=1.0, top_p=0.95, top_k=20, seed=5, max_length_generation=260)

    def run(seed):
        params.seed = seed
        return generate(vllm_backend, prompts, lambda t, i, e: humaneval.postprocess(t, problems[i], e),
                        humaneval.stop_words, 3, 2, params)

    gens, stats = run(5)
    assert [len(g) for g in gens] == [3, 3, 3] and stats["samples"] == 9
    assert all(s.startswith(p) for p, g in zip(prompts, gens) for s in g)
    assert run(5)[0] == gens and run(6)[0] != gens  # the in-process CPU engine follows set_seed


@pytest.mark.slow
def test_evaluate_with_vllm_writes_and_scores_what_hf_does(tmp_path, model_dir):
    """Greedy: both backends give the same generations file, per-problem results and pass@1.
    Each runs as `starforge eval` in its own process, as a user runs it: once a vLLM engine has
    run in a process, transformers cannot build the same architecture there (vLLM's transformers
    backend leaves its config context behind)."""
    for backend in ("hf", "vllm"):
        proc = subprocess.run([sys.executable, "-m", "starforge", "eval", "--model", str(model_dir), "--tasks",
                               "humaneval", "--limit", "20", "--n_samples", "1", "--do_sample", "false",
                               "--max_length_generation", "300", "--device", "cpu", "--allow_code_execution",
                               "--save_generations", "--prompt_batch_size", "8", "--backend", backend,
                               "--save_generations_path", str(tmp_path / f"{backend}.json"),
                               "--metric_output_path", str(tmp_path / f"{backend}_metrics.json")],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr[-2000:]
    hf_gens = json.loads((tmp_path / "hf_humaneval.json").read_text())
    vllm_gens = json.loads((tmp_path / "vllm_humaneval.json").read_text())
    assert len(vllm_gens) == 20 and vllm_gens == hf_gens
    metrics = [json.loads((tmp_path / f"{b}_metrics.json").read_text()) for b in ("hf", "vllm")]
    assert metrics[0]["humaneval"] == metrics[1]["humaneval"]
    per_problem = [(tmp_path / f"{b}_metrics_humaneval_problems.jsonl").read_text() for b in ("hf", "vllm")]
    assert per_problem[0] == per_problem[1] and len(per_problem[1].splitlines()) == 20


def test_unknown_backend_is_one_line_error(capsys, model_dir):
    rc = starforge_main(["eval", "--model", str(model_dir), "--allow_code_execution", "--backend", "nope"])
    err = capsys.readouterr().err
    assert rc == 2 and "--backend 'nope': choose from hf, vllm" in err and len(err.strip().splitlines()) == 1


def test_a_head_size_vllm_cpu_cannot_serve_is_refused_before_start(tiny_model_dir):
    from starforge.errors import EvalError

    backend = load_backend("vllm", tiny_model_dir, "fp32", "cpu")
    with pytest.raises(EvalError, match=r"head size 16; vLLM's CPU attention serves 32, 64.*use --backend hf"):
        backend.start()


def test_transformers_still_builds_the_architecture_after_vllm_ran(vllm_backend, model_dir, humaneval):
    """The engine lives in its own process: vLLM's Transformers backend patches transformers'
    GPTBigCode classes where it runs, and that must not be here."""
    vllm_backend.generate_ids(_prompts(humaneval, 1), 1, (), SamplingParams(do_sample=False,
                                                                           max_length_generation=200))
    fresh = HFBackend(model_dir, device="cpu")
    (rows,) = fresh.generate_ids(_prompts(humaneval, 1), 1, (), SamplingParams(do_sample=False,
                                                                             max_length_generation=200))
    assert len(rows[0]) == 200
