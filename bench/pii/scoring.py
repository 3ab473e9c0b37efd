"""Scoring: planted values per class, and the untouched set against its reviewed labels."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bench.pii import CLASSES
from bench.pii.planting import Sample


def score(labelled: list[Sample], preds: list[list[tuple[str, int, int]]]) -> dict[str, dict[str, float]]:
    tp_pred = {c: 0 for c in CLASSES}
    fp = {c: 0 for c in CLASSES}
    hit = {c: 0 for c in CLASSES}
    total = {c: 0 for c in CLASSES}
    for sample, pred in zip(labelled, preds):
        for c, s, e in sample.gold:
            total[c] += 1
            if any(pc == c and ps < e and s < pe for pc, ps, pe in pred):
                hit[c] += 1
        for pc, ps, pe in pred:
            if not any(lo <= ps < hi for lo, hi in sample.inserted):
                continue  # on the host's own lines: measured on the untouched set
            if any(c == pc and s < pe and ps < e for c, s, e in sample.gold):
                tp_pred[pc] += 1
            else:
                fp[pc] += 1
    out = {}
    for c in CLASSES:
        p = tp_pred[c] / (tp_pred[c] + fp[c]) if tp_pred[c] + fp[c] else (1.0 if total[c] == 0 else 0.0)
        r = hit[c] / total[c] if total[c] else 1.0
        out[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
                  "gold": total[c], "fp": fp[c]}
    return out


LABELS = Path(__file__).with_name("labels.json")


@dataclass
class Labels:
    """The reviewed pre-existing PII of the untouched set (bench/pii/labels.json)."""

    reviewed: set[str]
    items: dict[str, list[dict]]

    @classmethod
    def load(cls, path: Path = LABELS) -> Labels:
        data = json.loads(path.read_text(encoding="utf-8"))
        items: dict[str, list[dict]] = {}
        for item in data["pii"]:
            items.setdefault(item["file"], []).append(item)
        return cls(set(data["reviewed_files"]), items)

    def spans(self, sample: Sample) -> tuple[list[tuple[str, int, int]], int]:
        """(class, start, end) of each labelled value found at its line by its sha256, and the
        number of labels not found there (the file changed: those count as nothing)."""
        items = self.items.get(sample.key, [])
        if not items:
            return [], 0
        starts = [0]
        for line in sample.text.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        out, stale = [], 0
        for item in items:
            n, digest = item["length"], item["sha256"]
            lo = starts[item["line"] - 1] if item["line"] <= len(starts) - 1 else len(sample.text)
            hi = starts[item["line"]] if item["line"] < len(starts) else lo
            at = next((i for i in range(lo, max(lo, hi - n + 1))
                       if hashlib.sha256(sample.text[i:i + n].encode()).hexdigest() == digest), None)
            if at is None:
                stale += 1
            else:
                out.append((item["class"], at, at + n))
        return out, stale


def score_untouched(clean: list[Sample], preds: list[list[tuple[str, int, int]]], labels: Labels) -> dict:
    """Findings on untouched files: those overlapping a labelled value of their class are true
    positives (pre-existing PII), all others false positives; labelled values no finding of
    their class overlaps are the pre-existing misses."""
    fp = {c: 0 for c in CLASSES}
    found = missed = tp = stale = unreviewed = 0
    for sample, pred in zip(clean, preds):
        gold, n_stale = labels.spans(sample)
        stale += n_stale
        unreviewed += sample.key not in labels.reviewed
        for c, s, e in gold:
            if any(pc == c and ps < e and s < pe for pc, ps, pe in pred):
                found += 1
            else:
                missed += 1
        for pc, ps, pe in pred:
            if any(c == pc and s < pe and ps < e for c, s, e in gold):
                tp += 1
            else:
                fp[pc] += 1
    return {"fp": fp, "preexisting": {"labelled": found + missed, "found": found, "missed": missed,
                                      "true_positive_findings": tp, "stale_labels": stale},
            "unreviewed_files": unreviewed}


def show_errors(labelled, preds, clean, clean_preds, labels: Labels) -> None:
    def ctx(text, s, e):
        lo, hi = text.rfind("\n", 0, s) + 1, text.find("\n", e)
        return (text[lo:s] + "[[" + text[s:e] + "]]" + text[e:hi if hi >= 0 else len(text)])[:160]
    for sample, pred in zip(labelled, preds):
        for c, s, e in sample.gold:
            if not any(pc == c and ps < e and s < pe for pc, ps, pe in pred):
                print(f"  MISS {c:10s} {sample.path.name}: {ctx(sample.text, s, e)!r}")
        for pc, ps, pe in pred:
            if any(lo <= ps < hi for lo, hi in sample.inserted) and not any(
                    c == pc and s < pe and ps < e for c, s, e in sample.gold):
                print(f"  FP   {pc:10s} {sample.path.name}: {ctx(sample.text, ps, pe)!r}")
    for sample, pred in zip(clean, clean_preds):
        gold = labels.spans(sample)[0]
        for pc, ps, pe in pred:
            tag = "LABELLED " if any(c == pc and s < pe and ps < e for c, s, e in gold) else "UNTOUCHED"
            print(f"  {tag} {pc:10s} {sample.key}: {ctx(sample.text, ps, pe)!r}")
