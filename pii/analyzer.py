"""presidio's `AnalyzerEngine` over code, without a spaCy model, at regex speed.

The engine gets presidio's `NoOpNlpEngine` (no model loaded, nothing downloaded) and only our
recognizers. FACTS.md measured presidio on whole files at 0.3-4 MB/s: the cost is its per-call
work and every pattern running over every byte. So a cheap prefilter (`@x.y`, dotted quads,
hex-colon runs, `:x@`, service-token prefixes, `-----BEGIN`, secret-like words) finds candidate
positions; presidio sees only windows around them (the trigger's line, at most
`window_chars` either side; a PEM block to its END line), joined into calls of at most
`batch_chars`. Files without a trigger never reach presidio. Each recognizer's evidence lies
on the trigger's line, so windows lose nothing it would use.

The triggers are the recognizers' own (each declares `TRIGGERS`), so the prefilter looks only
for what the configured classes need. Tokens without a literal prefix have shape triggers
(Telegram's `:` and 35 characters, Discord's `.6.27` tail, Twilio's `AC`/`SK` SIDs, a name
ending in `key` given a token-like value), each a literal-led regex that runs at over 1 GB/s.

Bounded on hostile input: a 50 MB single-line file costs one linear pass of the triggers plus
windows; a file of nothing but candidates costs calls of `batch_chars` each, linear in its
size (about 1 MB/s per core when every line is a candidate).
"""

from __future__ import annotations

import bisect
import fnmatch
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from ahocorasick_rs import AhoCorasick
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from pii.config import PiiConfig
from pii.recognizers import CLASS_TO_ENTITY, ENTITY_TO_CLASS, build_recognizers
from pii.recognizers.base import PATTERN_NAME_KEY, CodePatternRecognizer, Triggers
from pii.recognizers.ner_recognizer import NerRecognizer

logger = logging.getLogger(__name__)

_SURROGATES = re.compile("[\ud800-\udfff]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Prefilter:
    """Finds candidate positions with the triggers of the recognizers in use (each declares
    its own, `Triggers` in pii/recognizers/base.py): literal-led regexes, case-sensitive token
    prefixes, and lower-case words and regexes found in an ASCII-lowercased copy. Each
    recognizer's own pattern needs one of its triggers on its line."""

    def __init__(self, triggers: list[Triggers]):
        def union(attr: str) -> list[str]:
            return list(dict.fromkeys(item for t in triggers for item in getattr(t, attr)))
        self.patterns = [re.compile(p) for p in union("patterns")]
        self.lower_patterns = [re.compile(p) for p in union("lower_patterns")]
        self.prefixes = union("prefixes")
        self.words = union("words")
        # One Aho-Corasick pass for all the literals (ahocorasick-rs, Rust): 78 needles found by a
        # `str.find` loop each were 36 % of PII's time on site-packages (docs/pii.md, "Speed").
        self._literals = [(AhoCorasick(needles), lower) for needles, lower in ((self.prefixes, False),
                                                                               (self.words, True)) if needles]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every trigger in `text`, sorted."""
        spans = [m.span() for rx in self.patterns for m in rx.finditer(text)]
        lower = text.lower()
        if len(lower) != len(text):  # a few non-ASCII characters change length when lowered
            lower = text.translate(_ASCII_LOWER)
        spans.extend(m.span() for rx in self.lower_patterns for m in rx.finditer(lower))
        for automaton, on_lower in self._literals:  # every occurrence, overlapping ones included
            haystack = lower if on_lower else text
            try:
                found = automaton.find_matches_as_indexes(haystack, overlapping=True)
            except UnicodeEncodeError:  # lone surrogates (undecodable bytes, surrogateescape): same offsets
                found = automaton.find_matches_as_indexes(_SURROGATES.sub("\ufffd", haystack), overlapping=True)
            spans.extend((s, e) for _, s, e in found)
        spans.sort()
        return spans


_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# Overlapping findings of different classes: the higher score wins, then this order.
CLASS_PRIORITY = {"key": 0, "password": 1, "username": 2, "email": 3, "ip_address": 4, "name": 5}


@dataclass(frozen=True)
class Finding:
    """One detected value: its class, its span in the text, what found it. Never the value."""

    cls: str
    start: int
    end: int
    score: float
    recognizer: str

    def to_json(self) -> dict:
        return {"class": self.cls, "start": self.start, "end": self.end, "score": round(self.score, 2),
                "recognizer": self.recognizer}


class _NoContextEnhancer(ContextAwareEnhancer):
    """Our recognizers read code context themselves; lemma context needs spaCy tokens."""

    def __init__(self):
        super().__init__(context_similarity_factor=0, min_score_with_context_similarity=0, context_prefix_count=0,
                         context_suffix_count=0)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        return raw_results


class PiiAnalyzer:
    """Finds PII in code with one presidio engine; build once, call `analyze` per file."""

    def __init__(self, config: PiiConfig | None = None):
        self.config = config or PiiConfig()
        recognizers = build_recognizers(self.config)
        registry = _OrderedRegistry(recognizers=recognizers, supported_languages=["en"])
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
        self.engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"],
                                     context_aware_enhancer=_NoContextEnhancer())
        self.entities = sorted({e for r in recognizers for e in r.supported_entities})
        self.use_prefilter = self.config.prefilter and not any(isinstance(r, NerRecognizer) for r in recognizers)
        patterned = [r for r in recognizers if isinstance(r, CodePatternRecognizer)]
        self.prefilter = Prefilter([r.TRIGGERS for r in patterned])
        self.lock_file_noise = {(r.CLASS, name) for r in patterned for name in r.LOCK_FILE_NOISE}
        self.calls = 0
        self.chars_analyzed = 0

    def analyze(self, text: str, path: str | PurePath | None = None) -> list[Finding]:
        if not text or not self.entities:
            return []
        segments = self._segments(text) if self.use_prefilter else self._chunks(text, 0, len(text))
        findings: set[Finding] = set()
        for batch in self._batches(segments):
            findings.update(self._analyze_batch(text, batch))
        return self._resolve(self._apply_path_rules(sorted(findings, key=lambda f: (f.start, f.end)), path))

    # -- windows and batches --------------------------------------------------------------

    def _segments(self, text: str) -> list[tuple[int, int]]:
        """Merged, sorted [lo, hi) windows around every trigger."""
        w = self.config.window_chars
        windows: list[tuple[int, int]] = []
        last_hi = -1
        for start, end in self.prefilter.spans(text):
            pem = text.startswith("-----BEGIN", start)
            if start < last_hi - w and not pem:  # inside the previous window: nothing new
                continue
            lo = text.rfind("\n", max(0, start - w), start) + 1 or max(0, start - w)
            hi = text.find("\n", end, end + w)
            if hi < 0:
                hi = min(len(text), end + w)
            if pem:
                footer = _PEM_END.search(text, end, end + 20000)
                hi = max(hi, footer.end() if footer else min(len(text), end + 20000))
            if windows and lo <= windows[-1][1] + 1:
                windows[-1] = (windows[-1][0], max(windows[-1][1], hi))
            else:
                windows.append((lo, hi))
            last_hi = windows[-1][1]
        out: list[tuple[int, int]] = []
        for lo, hi in windows:
            out.extend(self._chunks(text, lo, hi))
        return out

    def _chunks(self, text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """[lo, hi) cut at line ends into pieces of at most `batch_chars` (hard cuts with
        `window_chars` of overlap inside a longer line)."""
        size, overlap = self.config.batch_chars, self.config.window_chars
        pieces = []
        while hi - lo > size:
            cut = text.rfind("\n", lo + size // 2, lo + size)
            if cut > 0:
                pieces.append((lo, cut))
                lo = cut + 1
            else:
                pieces.append((lo, lo + size))
                lo = lo + size - overlap
        pieces.append((lo, hi))
        return pieces

    def _batches(self, segments) -> Iterator[list[tuple[int, int]]]:
        batch, total = [], 0
        for lo, hi in segments:
            if batch and total + (hi - lo) > self.config.batch_chars:
                yield batch
                batch, total = [], 0
            batch.append((lo, hi))
            total += hi - lo + 1
        if batch:
            yield batch

    def _analyze_batch(self, text: str, batch: list[tuple[int, int]]) -> Iterator[Finding]:
        joined = "\n".join(text[lo:hi] for lo, hi in batch)
        starts, pos = [], 0
        for lo, hi in batch:
            starts.append(pos)
            pos += hi - lo + 1
        self.calls += 1
        self.chars_analyzed += len(joined)
        for r in self.engine.analyze(joined, language="en", entities=self.entities):
            i = bisect.bisect_right(starts, r.start) - 1
            lo, hi = batch[i]
            offset = lo - starts[i]
            if r.end + offset > hi:  # a match across two windows is an artefact of joining
                continue
            meta = r.recognition_metadata or {}
            yield Finding(ENTITY_TO_CLASS[r.entity_type], r.start + offset, r.end + offset, r.score,
                          meta.get(PATTERN_NAME_KEY) or meta.get("recognizer_name", ""))

    # -- context rules ---------------------------------------------------------------------

    def _apply_path_rules(self, findings: list[Finding], path) -> list[Finding]:
        if path is None:
            return findings
        name = PurePath(path).name
        if any(fnmatch.fnmatch(name, pat) for pat in self.config.lock_files):
            findings = [f for f in findings if (f.cls, f.recognizer) not in self.lock_file_noise]
        return findings

    @staticmethod
    def _resolve(findings: list[Finding]) -> list[Finding]:
        """Non-overlapping findings, sorted by start: of overlapping ones, the best survives."""
        ranked = sorted(findings, key=lambda f: (-f.score, CLASS_PRIORITY.get(f.cls, 9), -(f.end - f.start), f.start,
                                                 f.recognizer))
        kept: list[Finding] = []
        starts: list[int] = []
        for f in ranked:
            i = bisect.bisect_left(starts, f.start)
            if i > 0 and kept[i - 1].end > f.start or i < len(kept) and kept[i].start < f.end:
                continue
            starts.insert(i, f.start)
            kept.insert(i, f)
        return kept


class _OrderedRegistry(RecognizerRegistry):
    """presidio's registry returns its recognizers through a `set` (hash order, which changes
    from process to process), and `EntityRecognizer.remove_duplicates` keeps whichever of two
    equal findings came first: so which recognizer names a finding would vary between runs.
    Here they run in registration order, and the same input always gives the same findings."""

    def get_recognizers(self, *args, **kwargs):
        order = {id(r): i for i, r in enumerate(self.recognizers)}
        return sorted(super().get_recognizers(*args, **kwargs), key=lambda r: order.get(id(r), len(order)))


_DEFAULT: PiiAnalyzer | None = None


def scan_text(text: str, path: str | PurePath | None = None, config: PiiConfig | None = None) -> list[Finding]:
    """PII findings in `text` (non-overlapping, by start). `path` enables file-name rules."""
    global _DEFAULT
    if config is not None:
        return PiiAnalyzer(config).analyze(text, path)
    if _DEFAULT is None:
        _DEFAULT = PiiAnalyzer()
    return _DEFAULT.analyze(text, path)


__all__ = ["CLASS_TO_ENTITY", "Finding", "PiiAnalyzer", "scan_text"]
