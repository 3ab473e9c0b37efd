"""A generated family of small Python functions a tiny CPU model learns in minutes.

Each problem is a signature plus a docstring (the prompt), a reference solution written one
step per line, and 3-5 generated `assert` tests. Primitives are arithmetic on an int `x`,
string edits on `s` and list transforms on `xs`; level 1 is one primitive, level 2 a
composition of two, level 3 of three. The held-out split has constants never used in training
and compositions (ordered primitive sequences) never seen in training, so it measures
generalisation rather than recall (the issue's "unseen constants and unseen compositions").
Training constants span 2-29 and training words all two-letter strings, so a held-out constant
is made of seen digits and a held-out word of seen letters: with a handful of training
constants the tiny model memorised each one and never learned to copy (docs/finetune.md).

The prompt ends before the newline that opens the body: a trailing "\\n" would merge with the
completion's indent into one BPE token (see FACTS "TRL on the CPU").

The records are the shared problems format (`starforge/formats/problems.py`, the one writer
and reader, also written by `starforge eval --save_problems`), with the family's `kind` and
`level` and its stop words: completions are cut where the next top-level statement would start.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starforge.formats.problems import ProblemRecord, write_problems
from starforge.formats.problems import read_problems as _read

ENTRY_POINT = "solve"
STOP_WORDS = ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#", "\nassert ", "<|endoftext|>")
"""Where the family's completions are cut: the function body ends at the next top-level statement."""
LEVELS = (1, 2, 3)
KINDS = ("arith", "string", "list")
HELDOUT_CONSTANTS = (7, 13, 17, 19)  # never a constant in a training problem
TRAIN_CONSTANTS = tuple(c for c in range(2, 30) if c not in HELDOUT_CONSTANTS)
WORDS_HELDOUT = ("mn", "owl")  # never a word in a training problem
WORDS_TRAIN = tuple(w for w in (a + b for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghijklmnopqrstuvwxyz")
                    if w not in WORDS_HELDOUT)


@dataclass(frozen=True)
class Primitive:
    name: str
    kind: str
    doc: str  # format with c=
    code: str  # format with c=
    fn: Callable[[Any, Any], Any]
    const: str | None = None  # "int", "small" or "word"


def _p(name, kind, doc, code, fn, const=None):
    return Primitive(name, kind, doc, code, fn, const)


PRIMITIVES: dict[str, list[Primitive]] = {
    "arith": [
        _p("add", "arith", "add {c}", "x = x + {c}", lambda x, c: x + c, "int"),
        _p("sub", "arith", "subtract {c}", "x = x - {c}", lambda x, c: x - c, "int"),
        _p("mul", "arith", "multiply by {c}", "x = x * {c}", lambda x, c: x * c, "int"),
        _p("div", "arith", "floor-divide by {c}", "x = x // {c}", lambda x, c: x // c, "int"),
        _p("neg", "arith", "negate", "x = -x", lambda x, c: -x),
    ],
    "string": [
        _p("upper", "string", "uppercase", "s = s.upper()", lambda s, c: s.upper()),
        _p("rev", "string", "reverse", "s = s[::-1]", lambda s, c: s[::-1]),
        _p("append", "string", "append '{c}'", "s = s + '{c}'", lambda s, c: s + c, "word"),
        _p("prepend", "string", "prepend '{c}'", "s = '{c}' + s", lambda s, c: c + s, "word"),
        _p("repeat", "string", "repeat {c} times", "s = s * {c}", lambda s, c: s * c, "small"),
    ],
    "list": [
        _p("addeach", "list", "add {c} to each element", "xs = [v + {c} for v in xs]",
           lambda xs, c: [v + c for v in xs], "int"),
        _p("muleach", "list", "multiply each element by {c}", "xs = [v * {c} for v in xs]",
           lambda xs, c: [v * c for v in xs], "int"),
        _p("keep", "list", "keep elements greater than {c}", "xs = [v for v in xs if v > {c}]",
           lambda xs, c: [v for v in xs if v > c], "int"),
        _p("sort", "list", "sort", "xs = sorted(xs)", lambda xs, c: sorted(xs)),
        _p("rev", "list", "reverse", "xs = xs[::-1]", lambda xs, c: xs[::-1]),
    ],
}
ARG = {"arith": ("x", "int"), "string": ("s", "str"), "list": ("xs", "list")}


@dataclass
class GenProblem(ProblemRecord):
    """A problem of the generated family: the shared record plus its kind and level."""

    entry_point: str = ENTRY_POINT
    stop_words: list[str] = field(default_factory=lambda: list(STOP_WORDS))
    split: str = "train"
    kind: str = ""
    level: int = 0


def category_of(level: int) -> str:
    return f"level{level}"


def _heldout_compositions(rng: random.Random) -> set[tuple[str, str]]:
    """A fixed quarter of the ordered primitive pairs of each kind, never trained on (level >= 2
    problems containing one of these adjacent pairs are held out)."""
    held = set()
    for kind, prims in PRIMITIVES.items():
        pairs = [(a.name, b.name) for a, b in itertools.permutations(prims, 2)]
        rng.shuffle(pairs)
        held.update((kind,) + p for p in pairs[: len(pairs) // 4])
    return held


def _inputs(kind: str, rng: random.Random, n: int) -> list[Any]:
    if kind == "arith":
        return rng.sample(range(-20, 60), n)
    if kind == "string":
        return ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 4))) for _ in range(n)]
    return [[rng.randint(-5, 25) for _ in range(rng.randint(2, 5))] for _ in range(n)]


def _const(prim: Primitive, rng: random.Random, heldout: bool) -> Any:
    if prim.const == "int":
        return rng.choice(HELDOUT_CONSTANTS if heldout else TRAIN_CONSTANTS)
    if prim.const == "small":
        return rng.choice((2, 3))
    if prim.const == "word":
        return rng.choice(WORDS_HELDOUT if heldout else WORDS_TRAIN)
    return None


def _make(pid: str, kind: str, chain: list[tuple[Primitive, Any]], split: str, rng: random.Random) -> GenProblem:
    var, typ = ARG[kind]
    steps = [p.doc.format(c=c) for p, c in chain]
    doc = (", then ".join(steps)).capitalize() + "."
    prompt = f'def {ENTRY_POINT}({var}: {typ}) -> {typ}:\n    """{doc}"""'
    body = "".join(f"    {p.code.format(c=c)}\n" for p, c in chain)
    solution = f"\n{body}    return {var}\n"
    tests = []
    for value in _inputs(kind, rng, rng.randint(3, 5)):
        out = value
        for p, c in chain:
            out = p.fn(out, c)
        tests.append(f"assert {ENTRY_POINT}({value!r}) == {out!r}")
    level = len(chain)
    return GenProblem(id=pid, prompt=prompt, tests=tests, category=category_of(level), kind=kind,
                      level=level, split=split, solution=solution)


def generate_problems(n_train: int = 600, n_heldout: int = 150, seed: int = 0) -> list[GenProblem]:
    """`n_train` training and `n_heldout` held-out problems, evenly over kinds and levels.
    A held-out problem has at least one unseen constant or an unseen composition (level >= 2);
    level-1 held-out problems without a constant get an unseen constant where possible."""
    rng = random.Random(seed)
    held_pairs = _heldout_compositions(random.Random(1234))
    out: list[GenProblem] = []
    seen: set[str] = set()

    def pairs_of(kind: str, chain) -> set[tuple[str, str, str]]:
        return {(kind, a.name, b.name) for (a, _), (b, _) in zip(chain, chain[1:])}

    for split, target in (("train", n_train), ("heldout", n_heldout)):
        made = 0
        for i in itertools.count():
            if made >= target or i > target * 200:
                break
            kind = KINDS[i % 3]
            level = LEVELS[(i // 3) % 3]
            prims = PRIMITIVES[kind]
            names = [rng.choice(prims) for _ in range(level)]
            if any(a.name == b.name for a, b in zip(names, names[1:])):
                continue
            unseen_pair = bool(pairs_of(kind, [(p, None) for p in names]) & held_pairs)
            if split == "train":
                if unseen_pair:
                    continue
                chain = [(p, _const(p, rng, False)) for p in names]
            else:
                # unseen constants on a random subset of steps, unseen composition where it occurs
                chain = [(p, _const(p, rng, rng.random() < 0.6)) for p in names]
                has_unseen_const = any(
                    c in HELDOUT_CONSTANTS or c in WORDS_HELDOUT for _, c in chain if c is not None)
                if not (unseen_pair or has_unseen_const):
                    continue
            if any(p.name == "div" and c == 0 for p, c in chain):
                continue
            key = repr([(p.kind, p.name, c) for p, c in chain])
            if key in seen:
                continue
            seen.add(key)
            out.append(_make(f"{split}/{made}", kind, chain, split, rng))
            made += 1
    return out


def read_problems(path: Path) -> list[GenProblem]:
    """A problems file (any writer's) as `GenProblem`s; `FormatError` names a bad file and line."""
    return _read(path, GenProblem)


__all__ = ["GenProblem", "read_problems", "write_problems", "generate_problems", "iter_texts", "STOP_WORDS"]


def iter_texts(problems: list[GenProblem]) -> Iterator[str]:
    """Prompt + solution texts (for training a tokenizer)."""
    for p in problems:
        yield p.prompt + p.solution
        yield "\n".join(p.tests)
