"""Licence detection: accuracy and speed of the candidates on real licence files of this machine.

    python -m bench.licences [--detector starforge|askalono|scancode] [--limit N] [--corpus-out FILE] [--corpus FILE]

Corpus (labelled by what the file's package declares, nothing hand-made):
- /usr/share/common-licenses/* (Debian's copies of GPL, LGPL, MPL, Apache, BSD, CC0, ...), label
  from the file name;
- the npm client's own node_modules (/usr/lib/node_modules/npm/node_modules/*): each package with
  exactly one licence file and a single SPDX id in package.json's `license`;
- this interpreter's site-packages: each distribution with exactly one file under
  `*.dist-info/licenses/` (or one top-level LICENSE in the dist-info) and one SPDX id from its
  metadata (`License-Expression`, else an unambiguous classifier);
- variants of each labelled file, as issue 16 asks a detector to survive: truncated to its first
  paragraph, straight quotes replaced (`"AS IS"` -> `'AS IS'`), re-wrapped whitespace, and its
  copyright lines replaced;
- negatives: README files and Python sources of the same packages (no licence: must be unknown).

A prediction is right when its SPDX id equals the label up to `-only`/`-or-later` (a licence text
alone does not say "or later"). `starforge` is our detector (starforge/formats/licences.py:
SPDX header, askalono, section split, family map); `askalono` is the bare `askalono.identify`;
`scancode` runs ScanCode's license index (`licensedcode`) and must run under an interpreter that
has scancode-toolkit (its own venv: it is not a project dependency). Printed: accuracy per corpus
part and variant at the chosen threshold, the score distribution of right and wrong answers (to
choose the threshold), files/s; last line: one JSON object.
"""

from __future__ import annotations

import argparse
import email.parser
import functools
import json
import re
import sys
import sysconfig
import time
from pathlib import Path

COMMON = Path("/usr/share/common-licenses")
NPM = Path("/usr/lib/node_modules/npm/node_modules")
COMMON_LABELS = {"Apache-2.0": "Apache-2.0", "Artistic": "Artistic-1.0-Perl", "BSD": "BSD-3-Clause",
                 "CC0-1.0": "CC0-1.0", "GFDL-1.2": "GFDL-1.2", "GFDL-1.3": "GFDL-1.3", "GPL-1": "GPL-1.0",
                 "GPL-2": "GPL-2.0", "GPL-3": "GPL-3.0", "LGPL-2": "LGPL-2.0", "LGPL-2.1": "LGPL-2.1",
                 "LGPL-3": "LGPL-3.0", "MPL-1.1": "MPL-1.1", "MPL-2.0": "MPL-2.0"}
_NAME = re.compile(r"^(licen[cs]e|copying|unlicense)", re.IGNORECASE)
PERMISSIVE = {  # starforge.formats.licences.PERMISSIVE, copied so the scancode run needs no starforge
    "MIT", "MIT-0", "MIT-CMU", "X11", "Apache-1.1", "Apache-2.0", "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause",
    "BSD-4-Clause", "0BSD", "PSF-2.0", "Python-2.0", "ISC", "Unlicense", "CC0-1.0", "Zlib", "BSL-1.0",
    "BlueOak-1.0.0", "Artistic-2.0", "HPND", "NCSA", "PostgreSQL", "UPL-1.0", "WTFPL",
}
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def base_id(spdx: str) -> str:
    return re.sub(r"-(only|or-later)$", "", spdx.strip()).removesuffix("+")


def _single_id(value) -> str | None:
    from starforge.formats.licences import UNKNOWN, normalise_expression

    if not isinstance(value, str):
        return None
    expr = normalise_expression(value)
    return expr if expr != UNKNOWN and " " not in expr else None


def labelled_files() -> list[dict]:
    """[{part, path, label}] as the module docstring says."""
    out = []
    for name, label in COMMON_LABELS.items():
        if (COMMON / name).is_file():
            out.append({"part": "common-licenses", "path": str(COMMON / name), "label": label})
    if NPM.is_dir():
        for pkg in sorted(NPM.iterdir()):
            files = [p for p in pkg.iterdir() if p.is_file() and _NAME.match(p.name)] if pkg.is_dir() else []
            try:
                declared = json.loads((pkg / "package.json").read_text(encoding="utf-8")).get("license")
            except (OSError, ValueError):
                continue
            label = _single_id(declared)
            if len(files) == 1 and label:
                out.append({"part": "npm", "path": str(files[0]), "label": label})
    site = Path(sysconfig.get_paths()["purelib"])
    for info in sorted(site.glob("*.dist-info")):
        files = sorted((info / "licenses").rglob("*")) if (info / "licenses").is_dir() else \
            [p for p in info.iterdir() if _NAME.match(p.name)]
        files = [p for p in files if p.is_file()]
        if len(files) != 1 or not (info / "METADATA").is_file():
            continue
        meta = email.parser.Parser().parsestr((info / "METADATA").read_text(encoding="utf-8", errors="replace"),
                                              headersonly=True)
        label = _single_id(meta.get("License-Expression") or "")
        if not label:
            classifiers = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or () if c.startswith("License ::")]
            names = {"MIT License": "MIT", "Apache Software License": "Apache-2.0", "ISC License (ISCL)": "ISC",
                     "Python Software Foundation License": "PSF-2.0",
                     "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0"}
            ids = {names[c] for c in classifiers if c in names}
            label = ids.pop() if len(ids) == 1 and len(classifiers) == 1 else None
        if label:
            out.append({"part": "site-packages", "path": str(files[0]), "label": label})
    return out


def negatives(limit: int = 60) -> list[dict]:
    site = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(NPM.glob("*/README.md"))[: limit // 2] + sorted(site.glob("*/__init__.py"))[: limit // 2]
    return [{"part": "negative", "path": str(p), "label": "unknown"} for p in paths]


def variants(text: str) -> dict[str, str]:
    paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    first = ""
    for p in paras:  # first paragraph of the licence proper (past title and copyright lines)
        first = (first + "\n\n" + p).strip()
        if len(first) > 300:
            break
    words = text.split()
    wrapped = "\n".join(" ".join(words[i:i + 9]) for i in range(0, len(words), 9))
    recopied = re.sub(r"(?im)^[ \t]*copyright[ \t]*(?:\(c\)|©|\d{4}).*$",  # "Copyright (c) 2014 X", not "copyright notice..."
                      "Copyright (c) 2031 Someone Else <someone@example.org>", text)
    return {"original": text, "first_paragraph": first, "single_quotes": text.replace('"', "'"),
            "rewrapped": wrapped, "new_copyright": recopied}


def detector(name: str):
    """A function text -> (spdx id or 'unknown', score or None), with the threshold applied later."""
    if name == "askalono":
        import askalono

        def run(text: str):
            m = askalono.identify(text)
            return m.name, float(m.score)
        return run
    if name == "starforge":
        from starforge.formats import licences

        def run(text: str):
            r = licences.identify_text(text, threshold=0.0)
            return r.spdx, r.score if r.score is not None else 1.0
        return run
    if name == "scancode":
        from licensedcode.cache import build_spdx_license_expression, get_index

        index = get_index()  # ~12 s the first time in a process (the cached index is loaded)

        def run(text: str):
            matches = index.match(query_string=text)
            if not matches:
                return "unknown", 0.0
            exprs = list(dict.fromkeys(build_spdx_license_expression(m.rule.license_expression) for m in matches))
            expr = exprs[0] if len(exprs) == 1 else " AND ".join(f"({e})" if " " in e else e for e in exprs)
            return expr, max(m.score() for m in matches) / 100.0
        return run
    raise SystemExit(f"--detector {name}: choose starforge, askalono or scancode")


@functools.cache
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@functools.cache
def _verdict(spdx: str) -> str:
    if spdx == "unknown" or not spdx:
        return "unknown"
    try:
        keys = _licensing().license_keys(spdx)
    except Exception:  # noqa: BLE001 (not an SPDX expression: scancode's own keys)
        return "unknown"
    permissive = {k.lower() for k in PERMISSIVE}
    return "permissive" if all(k.lower() in permissive for k in keys) else "non_permissive"


def right(pred: str, label: str) -> bool:
    if label == "unknown":
        return pred == "unknown"
    return base_id(pred) == base_id(label)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default="starforge")
    ap.add_argument("--limit", type=int, default=0, help="labelled files at most (0: all)")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--corpus-out", type=Path, help="write the corpus (part, path, label; negatives too) as JSONL")
    ap.add_argument("--corpus", type=Path, help="read the corpus a --corpus-out wrote instead of this interpreter's "
                    "(scancode runs in its own venv, whose site-packages differ)")
    ap.add_argument("--results-out", type=Path, help="write every text's prediction as JSONL")
    args = ap.parse_args(argv)
    if args.corpus:
        rows = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
        files = [r for r in rows if r["part"] != "negative"]
        negs = [r for r in rows if r["part"] == "negative"]
    else:
        files, negs = labelled_files(), negatives()
    if args.limit:
        files = files[: args.limit]
    if args.corpus_out:
        args.corpus_out.write_text("".join(json.dumps(f) + "\n" for f in files + negs), encoding="utf-8")
    run = detector(args.detector)
    samples = []
    for f in files:
        text = Path(f["path"]).read_text(encoding="utf-8", errors="replace")
        for vname, vtext in variants(text).items():
            samples.append((f["part"], vname, f["label"], f["path"], vtext))
    for f in negs:
        samples.append(("negative", "original", "unknown", f["path"],
                        Path(f["path"]).read_text(encoding="utf-8", errors="replace")[:20000]))
    results = []
    started = time.perf_counter()
    for part, vname, label, path, text in samples:
        pred, score = run(text)
        results.append((part, vname, label, path, pred, score))
    wall = time.perf_counter() - started

    def accuracy(rows, threshold):
        ok = sum(right(p if s >= threshold else "unknown", lab) for _, _, lab, _, p, s in rows)
        return round(ok / len(rows), 3) if rows else None

    def verdicts(rows, threshold):
        """Share of texts whose permissive / non-permissive / unknown class is right: what the
        chain's licence filter decides with the answer (MIT-0 for a truncated MIT is still right)."""
        ok = sum(_verdict(p if s >= threshold else "unknown") == _verdict(lab) for _, _, lab, _, p, s in rows)
        return round(ok / len(rows), 3) if rows else None

    by_threshold = {t: accuracy(results, t) for t in THRESHOLDS}
    verdict_by_threshold = {t: verdicts(results, t) for t in THRESHOLDS}
    best = max(by_threshold, key=lambda t: (by_threshold[t], -abs(t - 0.8)))
    t = args.threshold
    print(f"{args.detector}: {len(files)} labelled files x 5 variants + {len(negs)} negatives = "
          f"{len(samples)} texts in {wall:.1f} s ({len(samples) / wall:.1f} texts/s)")
    print("accuracy by threshold:", by_threshold)
    print("permissive/non-permissive/unknown verdict by threshold:", verdict_by_threshold)
    if args.results_out:
        args.results_out.write_text("".join(json.dumps(dict(zip(("part", "variant", "label", "path", "got", "score"), r)))
                                            + "\n" for r in results), encoding="utf-8")
    parts = sorted({r[0] for r in results})
    table = {}
    for part in parts:
        for vname in ("original", "first_paragraph", "single_quotes", "rewrapped", "new_copyright"):
            rows = [r for r in results if r[0] == part and r[1] == vname]
            if rows:
                table[f"{part}/{vname}"] = {"n": len(rows), "accuracy": accuracy(rows, t), "verdict": verdicts(rows, t)}
    for key, value in table.items():
        print(f"  {key:40s} n={value['n']:4d} accuracy={value['accuracy']} verdict={value['verdict']}")
    wrong = [r for r in results if not right(r[4] if r[5] >= t else "unknown", r[2])]
    print(f"wrong at threshold {t} ({len(wrong)}):")
    for part, vname, label, path, pred, score in wrong[:80]:
        print(f"  {part}/{vname}: {path} label={label} got={pred} score={score:.3f}")
    right_scores = sorted(s for *_, lab, _, p, s in ((r[0], r[1], r[2], r[3], r[4], r[5]) for r in results)
                          if lab != "unknown" and right(p, lab))
    summary = {"bench": "licences", "detector": args.detector, "texts": len(samples),
               "labelled_files": len(files), "wall_s": round(wall, 2), "texts_per_s": round(len(samples) / wall, 2),
               "threshold": t, "accuracy": accuracy(results, t), "accuracy_by_threshold": by_threshold,
               "best_threshold": best,
               "accuracy_original": accuracy([r for r in results if r[1] == "original" and r[0] != "negative"], t),
               "negatives_unknown": accuracy([r for r in results if r[0] == "negative"], t),
               "right_score_p05": right_scores[len(right_scores) // 20] if right_scores else None,
               "parts": table}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
