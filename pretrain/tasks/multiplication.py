"""n x m digit integer multiplication in the implicit chain-of-thought format (Deng et al., arXiv
2311.01460), the task of Seq-VCR (arXiv 2411.02344):

    question: digits of a, least significant first, `*`, digits of b, least significant first, `=`
    answer:   digits of a*b, least significant first, zero-padded to n+m digits, `<|endoftext|>`

one token per digit, e.g. 12 x 34 = 408 -> `2 1 * 4 3 =` `8 0 4 0 <|endoftext|>`. Operands have
exactly n and m digits (no leading zero). The held-out pairs are drawn first from `seed`; training
pairs are drawn so that no held-out pair (a, b) is ever trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starforge.errors import ConfigError
from starforge.modeling.pause import PAUSE_TOKEN, pause_token_id, with_pauses

EOS = "<|endoftext|>"
VOCAB = ["<pad>", EOS, PAUSE_TOKEN, "*", "=", *"0123456789"]


def multiplication_tokenizer(pause: bool = True):
    """A word-level `tokenizers.Tokenizer`: one token per digit, `*`, `=`, `<|endoftext|>`, `<pad>`
    and (unless `pause=False`) `<pause>`."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = [t for t in VOCAB if pause or t != PAUSE_TOKEN]
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens([t for t in vocab if t.startswith("<")])
    return tok


def digits_lsd_first(value: int, width: int) -> list[str]:
    return list(str(value).zfill(width)[::-1])


def format_example(a: int, b: int, n: int, m: int) -> tuple[str, str]:
    """(question, answer) as space-separated tokens."""
    question = " ".join([*digits_lsd_first(a, n), "*", *digits_lsd_first(b, m), "="])
    answer = " ".join([*digits_lsd_first(a * b, n + m), EOS])
    return question, answer


def parse_answer(tokens: list[str], n: int, m: int) -> int | None:
    """The product read back from generated answer tokens (LSD first); None if malformed."""
    digits = tokens[: n + m]
    if len(digits) != n + m or not all(t.isdigit() and len(t) == 1 for t in digits):
        return None
    return int("".join(reversed(digits)))


@dataclass
class MultiplicationTask:
    n: int = 2
    """Digits of the first operand."""
    m: int = 2
    """Digits of the second operand."""
    num_heldout: int = 500
    """Distinct (a, b) pairs held out for exact-match evaluation, never trained on."""
    seed: int = 0
    """Seeds the held-out draw (the split); training draws take their own generator."""

    def __post_init__(self) -> None:
        if self.n < 1 or self.m < 1:
            raise ConfigError(f"task: n={self.n} and m={self.m} must be >= 1")
        space = 9 * 10 ** (self.n - 1) * 9 * 10 ** (self.m - 1)
        if not 0 < self.num_heldout <= space // 2:
            raise ConfigError(f"task.num_heldout={self.num_heldout} must be in 1..{space // 2} "
                              f"(half of the {space} {self.n}x{self.m} pairs)")
        rng = np.random.default_rng([self.seed, self.n, self.m])
        held: set[tuple[int, int]] = set()
        while len(held) < self.num_heldout:
            held.add(self._draw(rng))
        self.heldout = sorted(held)
        self._heldout_set = held

    @property
    def name(self) -> str:
        return f"{self.n}x{self.m}"

    def _draw(self, rng: np.random.Generator) -> tuple[int, int]:
        a = int(rng.integers(10 ** (self.n - 1), 10 ** self.n))
        b = int(rng.integers(10 ** (self.m - 1), 10 ** self.m))
        return a, b

    def train_pairs(self, rng: np.random.Generator, size: int) -> list[tuple[int, int]]:
        """`size` training pairs (with replacement), none of them held out."""
        out: list[tuple[int, int]] = []
        while len(out) < size:
            pair = self._draw(rng)
            if pair not in self._heldout_set:
                out.append(pair)
        return out

    def encode(self, pairs: list[tuple[int, int]], tokenizer, num_pause: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Token ids [B, L] and loss mask [B, L] (true on answer tokens, the targets); every row
        has the same length L = n + m + 2 + num_pause + n + m + 1, so positions align across the
        batch as Seq-VCR's per-position statistics expect."""
        pause_id = pause_token_id(tokenizer) if num_pause else None
        rows, masks = [], []
        for a, b in pairs:
            question, answer = format_example(a, b, self.n, self.m)
            q = tokenizer.encode(question).ids
            ans = tokenizer.encode(answer).ids
            ids, mask = with_pauses(q, ans, num_pause, pause_id)
            rows.append(ids)
            masks.append(mask)
        return np.asarray(rows, dtype=np.int64), np.asarray(masks, dtype=bool)

    def prompt_length(self, num_pause: int = 0) -> int:
        return self.n + self.m + 2 + num_pause
