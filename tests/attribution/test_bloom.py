from __future__ import annotations

import os
import random
import subprocess
import sys

from attribution_corpus import STDLIB, TEXTKIT, UNSEEN

from attribution.bloom import Membership


def _windows(n: int, size: int = 300) -> list[str]:
    rng = random.Random(0)
    out = []
    for _ in range(n):
        text = (STDLIB / rng.choice(TEXTKIT)).read_text(encoding="utf-8")
        start = rng.randrange(0, len(text) - size)
        out.append(text[start:start + size])
    return out


def test_verbatim_snippets_score_at_least_half(att):
    assert min(att.check(s)["membership"] for s in _windows(20)) >= 0.5


def test_unseen_code_scores_near_zero(att):
    assert att.check(UNSEEN)["membership"] < 0.1


def test_partly_copied_snippet_scores_between(att):
    copied = _windows(1, 400)[0]
    score = att.check(UNSEEN + copied)["membership"]
    assert 0.2 <= score <= 0.8


def test_repetitive_ngrams_are_not_scored(att):
    assert att.check("#" * 300 + "\n" + " " * 200)["membership"] == 0.0


def test_snippet_shorter_than_ngram_scores_zero(att):
    assert att.check("import heapq\n")["membership"] == 0.0


def test_saved_filter_answers_the_same_in_another_process(att, index_dir):
    # rbloom's default hash is per-process; a saved filter must use a fixed one.
    snippet = _windows(1)[0]
    code = ("import sys; from pathlib import Path; from attribution.bloom import Membership; "
            "from attribution.config import BloomConfig; "
            f"m = Membership([Path(sys.argv[1]) / 'shards' / 'files'], BloomConfig()); print(m.score({snippet!r}))")
    out = subprocess.run([sys.executable, "-c", code, str(index_dir)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert float(out.stdout) == att.check(snippet)["membership"] == 1.0


def test_filter_false_positive_rate_near_config(att):
    # Unseen 50-character n-grams: random identifiers the stdlib cannot contain.
    rng = random.Random(1)
    grams = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_0123456789") for _ in range(50)) for _ in range(20000)]
    m: Membership = att.membership
    from attribution.bloom import stable_hash

    hits = sum(any(stable_hash(g) in f for f in m.filters) for g in grams)
    assert hits / len(grams) < 3 * att.cfg.bloom.fpr
