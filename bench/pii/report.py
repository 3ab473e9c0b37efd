"""Both detectors over both sets, the per-class tables, and the one JSON line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import bench.pii
from bench.pii import CLASSES, REPORTED
from bench.pii.baseline import BigcodeBaseline
from bench.pii.corpus import build_sets
from bench.pii.planting import Sample
from bench.pii.scoring import LABELS, Labels, score, score_untouched, show_errors
from pii import PiiAnalyzer


def ours(analyzer: PiiAnalyzer):
    def run(sample: Sample) -> list[tuple[str, int, int]]:
        return [(f.cls, f.start, f.end) for f in analyzer.analyze(sample.text, sample.path)]
    return run


def timed(fn, samples):
    t0 = time.process_time()
    preds = [fn(s) for s in samples]
    return preds, time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pii", description=bench.pii.__doc__.split("\n\n")[0])
    parser.add_argument("--labelled-mb", type=float, default=8.0)
    parser.add_argument("--clean-mb", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-errors", action="store_true", help="print our misses and false positives")
    parser.add_argument("--labels", type=Path, default=LABELS, help="reviewed pre-existing PII of the untouched set")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    labelled, clean, fingerprint = build_sets(args.seed, args.labelled_mb, args.clean_mb)
    lab_mb = sum(len(s.text) for s in labelled) / 1e6
    clean_mb = sum(len(s.text) for s in clean) / 1e6
    planted = {c: sum(g[0] == c for s in labelled for g in s.gold) for c in CLASSES}
    print(f"labelled: {len(labelled)} files, {lab_mb:.2f} MB, planted {planted}; untouched: {len(clean)} files, "
          f"{clean_mb:.2f} MB; files fingerprint {fingerprint} (built in {time.perf_counter() - t0:.1f} s)")

    labels = Labels.load(args.labels)
    results = {}
    for name, fn in (("ours", ours(PiiAnalyzer())), ("baseline", BigcodeBaseline().analyze)):
        if name == "baseline":
            fn_ = fn
            fn = lambda s, fn_=fn_: fn_(s.text)  # noqa: E731
        lab_preds, t_lab = timed(fn, labelled)
        clean_preds, t_clean = timed(fn, clean)
        per_class = score(labelled, lab_preds)
        if args.show_errors and name == "ours":
            show_errors(labelled, lab_preds, clean, clean_preds, labels)
        untouched = score_untouched(clean, clean_preds, labels)
        fp_by_class = {c: round(n / clean_mb, 3) for c, n in untouched["fp"].items()}
        results[name] = {"per_class": per_class, "fp_per_mb": round(sum(untouched["fp"].values()) / clean_mb, 3),
                         "fp_per_mb_by_class": fp_by_class, "preexisting": untouched["preexisting"],
                         "findings_per_mb": round(sum(map(len, clean_preds)) / clean_mb, 3),
                         "mb_s_per_core": round((lab_mb + clean_mb) / (t_lab + t_clean), 3)}
        pre = untouched["preexisting"]
        print(f"\n{name}: {results[name]['mb_s_per_core']:.2f} MB/s per core; untouched files: "
              f"{results[name]['findings_per_mb']:.2f} findings/MB, of which {pre['true_positive_findings']} on "
              f"labelled PII, false positives {results[name]['fp_per_mb']:.2f}/MB {fp_by_class}; "
              f"pre-existing PII found {pre['found']}/{pre['labelled']} (missed {pre['missed']})")
        if name == "ours" and (untouched["unreviewed_files"] or pre["stale_labels"]):
            print(f"  note: {untouched['unreviewed_files']} untouched files were never reviewed and "
                  f"{pre['stale_labels']} labels no longer match their file: their PII counts as false positives")
        print(f"  {'class':<11} {'P':>6} {'R':>6} {'F1':>6} {'gold':>5} {'fp':>5}")
        for c in CLASSES:
            m = per_class[c]
            if name == "baseline" and c == "username":
                continue
            print(f"  {c:<11} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['gold']:5d} {m['fp']:5d}")

    o, b = results["ours"], results["baseline"]
    summary = {
        "f1": {c: o["per_class"][c]["f1"] for c in REPORTED},
        "baseline_f1": {c: b["per_class"][c]["f1"] for c in REPORTED},
        "precision": {c: o["per_class"][c]["precision"] for c in REPORTED},
        "recall": {c: o["per_class"][c]["recall"] for c in REPORTED},
        "baseline_precision": {c: b["per_class"][c]["precision"] for c in REPORTED},
        "baseline_recall": {c: b["per_class"][c]["recall"] for c in REPORTED},
        "username_f1": o["per_class"]["username"]["f1"],
        "fp_per_mb": o["fp_per_mb"], "fp_per_mb_by_class": o["fp_per_mb_by_class"],
        "baseline_fp_per_mb": b["fp_per_mb"], "baseline_fp_per_mb_by_class": b["fp_per_mb_by_class"],
        "findings_per_mb": o["findings_per_mb"], "baseline_findings_per_mb": b["findings_per_mb"],
        "preexisting": o["preexisting"], "baseline_preexisting": b["preexisting"],
        "untouched_unreviewed_files": sum(s.key not in labels.reviewed for s in clean),
        "mb_s_per_core": o["mb_s_per_core"], "baseline_mb_s_per_core": b["mb_s_per_core"],
        "labelled_mb": round(lab_mb, 3), "clean_mb": round(clean_mb, 3), "planted": planted, "seed": args.seed,
        "files_fingerprint": fingerprint, "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))
    return 0

