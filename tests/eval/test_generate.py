"""Generation with a real tiny GPTBigCodeForCausalLM (random weights) and a trained BPE."""

from __future__ import annotations

import pytest

from eval.generate import HFBackend, SamplingParams, generate
from starforge.errors import EvalError


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(tiny_model_dir, device="cpu")


def _run(backend, humaneval, n=3, batch=2, seed=0, max_len=None, problems=None):
    problems = problems or humaneval.problems()[:2]
    prompts = [humaneval.prompt(p) for p in problems]
    max_len = max_len or max(len(backend.tokenizer(p).input_ids) for p in prompts) + 24
    params = SamplingParams(temperature=1.0, top_p=0.95, max_length_generation=max_len, seed=seed)
    return generate(backend, prompts, lambda t, i, e: humaneval.postprocess(t, problems[i], e),
                    humaneval.stop_words, n, batch, params)


def test_n_samples_per_prompt_cut_from_batches(backend, humaneval):
    gens, stats = _run(backend, humaneval, n=3, batch=2)  # 2 calls x 2 sequences, cut to 3
    assert [len(g) for g in gens] == [3, 3]
    assert stats["samples"] == 6


def test_generations_start_with_the_prompt(backend, humaneval):
    gens, _ = _run(backend, humaneval)
    for problem, samples in zip(humaneval.problems()[:2], gens):
        assert all(s.startswith(humaneval.prompt(problem)) for s in samples)


def test_deterministic_under_seed(backend, humaneval):
    assert _run(backend, humaneval, seed=7)[0] == _run(backend, humaneval, seed=7)[0]
    assert _run(backend, humaneval, seed=7)[0] != _run(backend, humaneval, seed=8)[0]


def test_max_length_counts_the_prompt(backend, humaneval):
    prompt = humaneval.prompt(humaneval.problems()[0])
    n_prompt = len(backend.tokenizer(prompt).input_ids)
    (rows,) = backend.generate_ids([prompt], 2, (), SamplingParams(temperature=1.0, max_length_generation=n_prompt + 5))
    assert len(rows) == 2
    eos = backend.tokenizer.eos_token_id
    assert all(len(r) == n_prompt + 5 or (len(r) < n_prompt + 5 and r[-1] == eos) for r in rows)


def test_stop_words_end_generation(backend, humaneval):
    # With every printable character a stop word, the first generated token ends the call.
    prompt = humaneval.prompt(humaneval.problems()[0])
    n_prompt = len(backend.tokenizer(prompt).input_ids)
    params = SamplingParams(temperature=1.0, max_length_generation=n_prompt + 50)
    stops = tuple(chr(c) for c in range(32, 127)) + ("\n", "\t", "\ufffd")
    (rows,) = backend.generate_ids([prompt], 2, stops, params)
    assert all(len(r) <= n_prompt + 2 for r in rows)  # each cut at the token that made a stop word


def test_prompt_filling_max_length_returns_the_prompt(backend, humaneval):
    prompt = humaneval.prompt(humaneval.problems()[0])
    (rows,) = backend.generate_ids([prompt], 1, (), SamplingParams(max_length_generation=8))
    assert rows == [backend.tokenizer(prompt).input_ids[-8:]]  # truncated on the left, as the harness's tokenizer does


def test_missing_model_dir_is_an_eval_error(tmp_path):
    with pytest.raises(EvalError, match="no such directory"):
        HFBackend(tmp_path / "nope")
    with pytest.raises(EvalError, match="no config.json"):
        HFBackend(tmp_path)


def test_prompt_batching_matches_one_prompt_at_a_time_when_greedy(backend, humaneval):
    prompts = [humaneval.prompt(p) for p in humaneval.problems()[:4]]  # different lengths: left padding
    params = SamplingParams(do_sample=False, max_length_generation=max(len(backend.tokenizer(p).input_ids)
                                                                       for p in prompts) + 16)
    stops = (*humaneval.stop_words, backend.eos_token)
    single = [backend.generate_ids([p], 1, stops, params)[0] for p in prompts]
    batched = backend.generate_ids(prompts, 1, stops, params)
    assert single == batched  # token for token, each cut at its own stop


def test_prompt_batching_keeps_the_harness_layout(backend, humaneval):
    problems = humaneval.problems()[:3]
    prompts = [humaneval.prompt(p) for p in problems]
    params = SamplingParams(temperature=1.0, max_length_generation=max(len(backend.tokenizer(p).input_ids)
                                                                       for p in prompts) + 16)
    gens, stats = generate(backend, prompts, lambda t, i, e: humaneval.postprocess(t, problems[i], e),
                           humaneval.stop_words, 3, 2, params, prompt_batch_size=2)
    assert [len(g) for g in gens] == [3, 3, 3] and stats["samples"] == 9
    assert all(s.startswith(p) for p, g in zip(prompts, gens) for s in g)
