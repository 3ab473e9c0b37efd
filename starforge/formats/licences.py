"""The project's one licence detector: an SPDX expression for a text, a repository or a record,
with where it came from. The data chain's readers and attribution's licence badges both call it.

Licence texts are identified by askalono (`pyaskalono`, the Rust matcher with SPDX's texts built
in; chosen over ScanCode by measurement, docs/data_pipeline.md "Licence detection"); expressions
are parsed and evaluated with `license-expression`. Evidence, in order, each recorded as
`Licence.source` (the records' `metadata.licence_source`):

1. `spdx_header`: an `SPDX-License-Identifier:` line in the file itself;
2. `licence_file:NAME[+NAME...]`: the repository's licence files at its root, found
   case-insensitively (LICENSE*, LICENCE*, COPYING*, UNLICENSE, MIT-LICENSE, ...). Several files
   named `LICENSE-<X>` are a dual licence (`MIT OR Apache-2.0`, the Rust convention); other sets
   combine with AND (COPYING + COPYING.LESSER);
3. `manifest:FILE`: package.json, pyproject.toml, setup.cfg, PKG-INFO, Cargo.toml, *.gemspec,
   composer.json.

A text is recognised when askalono's score reaches `threshold` (a config field of every caller,
default `DEFAULT_THRESHOLD`, measured); a file holding several licences that matches none well
as a whole is split into sections and each section identified. Anything else is `"unknown"`,
never a guess. This is a filter for training data, not a legal tool.

This module is over 300 lines because the evidence sources (texts, file names, seven manifest
formats) and the expression logic belong together: one place decides what a licence is.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import re
import textwrap
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

UNKNOWN = "unknown"

DEFAULT_THRESHOLD = 0.8
"""askalono score from which a licence text counts as recognised; measured on real licence files
and their truncated/requoted variants (docs/data_pipeline.md "Licence detection"); askalono's own
CLI reports a match as confident from 0.8 too."""

MAX_LICENCE_BYTES = 128_000
"""Licence files are read up to this many bytes (the longest SPDX texts, GPL-3.0 and AGPL-3.0, are ~35 KB)."""

PERMISSIVE = frozenset({
    "MIT", "MIT-0", "MIT-CMU", "MIT-feh", "X11", "Apache-1.1", "Apache-2.0", "BSD-1-Clause", "BSD-2-Clause",
    "BSD-2-Clause-Patent", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD-4-Clause", "0BSD", "PSF-2.0", "Python-2.0",
    "Python-2.0.1", "CNRI-Python", "ISC", "Unlicense", "CC0-1.0", "CC-BY-3.0", "CC-BY-4.0", "Zlib",
    "zlib-acknowledgement", "BSL-1.0", "HPND", "NCSA", "PostgreSQL", "UPL-1.0", "MS-PL", "AFL-3.0", "ECL-2.0",
    "EFL-2.0", "Artistic-2.0", "WTFPL", "blessing", "OpenSSL", "libpng-2.0", "Unicode-DFS-2016", "Unicode-3.0",
    "W3C", "Xnet", "ZPL-2.1", "curl", "NTP", "BlueOak-1.0.0",
})
"""Permissive licences (SPDX ids), after The Stack's list (arXiv 2211.15533, Appendix A), plus
BlueOak-1.0.0 (npm's own packages); callers' `permissive_licences` config replaces it."""

COPYLEFT_PREFIXES = ("GPL", "LGPL", "AGPL", "MPL", "EPL", "CDDL", "EUPL", "OSL", "CPL", "CECILL", "SSPL",
                     "MS-RL", "APSL", "RPL", "Sleepycat", "QPL", "IPL", "NPL", "GFDL", "CC-BY-SA", "ODbL",
                     "LPPL", "Artistic-1.0", "SPL", "Watcom")
"""Copyleft families: named as such in a removal, never lumped into `unknown`."""

_NAME = re.compile(r"^(?:(?:un)?licen[cs]e|copying|(?:mit|bsd|apache|isc|gpl|lgpl|mpl)[-_.]licen[cs]e)(?:[-_.].*)?$",
                   re.IGNORECASE)
_TEXT_SUFFIXES = {"", ".txt", ".md", ".markdown", ".rst", ".text", ".adoc"}
_DUAL = re.compile(r"^licen[cs]e[-_.](?!(?:txt|md|markdown|rst)$)([a-z0-9+-]+?)(?:\.(?:txt|md|markdown|rst))?$",
                   re.IGNORECASE)
_SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([^\r\n*]+?)\s*(?:\*/|-->|#\}|$)", re.MULTILINE)
_DUAL_WORDING = re.compile(r"\b(?:at your (?:option|choice)|dual[- ]licen[cs]ed|choose (?:either|one)|"
                           r"either (?:of )?the)\b", re.IGNORECASE)
_COPYRIGHT_LINE = re.compile(r"^[ \t]*(?:copyright[ \t]*(?:\(c\)|©|\d{4})|\(c\)[ \t]*\d{4}|©)[^\n]{0,200}$",
                             re.IGNORECASE | re.MULTILINE)  # "Copyright (c) 2024 X", not "copyright notice and ..."
_SECTION_BREAK = re.compile(r"\n\s*(?:[-=*_#~]{4,}|\f)\s*\n|\n{3,}")

MANIFESTS = ("package.json", "Cargo.toml", "pyproject.toml", "setup.cfg", "PKG-INFO", "composer.json")
"""Manifest files looked for at a repository's root, in this order (then `*.gemspec`)."""


@dataclass(frozen=True)
class Licence:
    """An SPDX expression (or `"unknown"`), the evidence it came from, and askalono's score for texts."""

    spdx: str = UNKNOWN
    source: str = ""
    score: float | None = None

    @property
    def known(self) -> bool:
        return self.spdx != UNKNOWN


# --- texts --------------------------------------------------------------------------------------------

def spdx_header(text: str) -> str | None:
    """The expression of the `SPDX-License-Identifier:` lines in `text` (several join with AND), or None."""
    found = [m.group(1).strip().rstrip(";,") for m in _SPDX_LINE.finditer(text)]
    exprs = [normalise_expression(f) for f in dict.fromkeys(found) if f]
    exprs = [e for e in exprs if e != UNKNOWN]
    return combine(exprs, "AND") if exprs else None


def identify_text(text: str, threshold: float = DEFAULT_THRESHOLD) -> Licence:
    """The licence a text states: an SPDX header inside it, else askalono's match of the whole text
    (score >= threshold), else its sections' matches combined (OR under dual-licence wording such as
    "at your option", AND otherwise), else unknown."""
    header = spdx_header(text[:4000])
    if header:
        return Licence(header, "spdx_header")
    return _identify_cached(_normalise_for_cache(text), threshold)


@lru_cache(maxsize=4096)
def _identify_cached(text: str, threshold: float) -> Licence:
    name, score = _askalono(text)
    if name and score >= threshold:
        return Licence(_family(name, text), "text", round(score, 4))
    sections = [s for s in _SECTION_BREAK.split(text) if len(s.strip()) >= 300][:8]
    if len(sections) > 1:
        found: list[str] = []
        scores: list[float] = []
        for section in sections:
            sname, sscore = _askalono(section)
            if sname and sscore >= threshold:
                found.append(_family(sname, section))
                scores.append(sscore)
        if found:
            op = "OR" if _DUAL_WORDING.search(text[:2000]) else "AND"
            return Licence(combine(list(dict.fromkeys(found)), op), "text_sections", round(min(scores), 4))
    if name and score >= COPYLEFT_FLOOR and is_copyleft(name):
        return Licence(_family(name, text), "text_low_score", round(score, 4))
    return Licence(UNKNOWN, "text", round(score, 4) if name else None)


def _normalise_for_cache(text: str) -> str:
    """Copyright lines differ between copies of one licence and do not change what it grants: drop
    them (askalono strips them too), so the per-text cache hits across repositories."""
    text = _COPYRIGHT_LINE.sub("", text[:MAX_LICENCE_BYTES]).strip()
    if len(text) > 400 and max(map(len, text.splitlines())) > 1000:
        # askalono scores a licence flowed onto one line 0.0 (measured): wrap it as a text file would be.
        text = "\n".join(textwrap.fill(para, 80) for para in text.splitlines())
    return text


def _askalono(text: str) -> tuple[str | None, float]:
    import askalono

    if not text.strip():
        return None, 0.0
    match = askalono.identify(text)
    return match.name, float(match.score)


# askalono's near-twins, found by the measurement in docs/data_pipeline.md: a text scored as the
# variant while it has the parent's own words is the parent. ISC is 0BSD plus the notice
# condition; MIT is MIT-0 plus its notice condition; Pixar is Apache-2.0 with a changed trademark
# clause. GFDL's "invariants" variants are artefacts of askalono's templates for the plain text.
_PARENT_IF_WORDS = {
    "0BSD": ("ISC", "provided that the above copyright notice and this permission notice appear in all copies"),
    "MIT-0": ("MIT", "shall be included in all copies"),
}
_VARIANT_WORDS = {"Pixar": ("Apache-2.0", "pixar")}

COPYLEFT_FLOOR = 0.25
"""A best match below the threshold but at least this, naming a copyleft licence, is reported as
that licence (`text_low_score`): Debian's LGPL-3 text scores 0.30 as LGPL-3.0 because SPDX's
template appends GPL-3.0; the file is removed either way, and named rather than `unknown`."""


def _family(name: str, text: str) -> str:
    """askalono's `name`, or its parent when the text shows the parent's words."""
    flat = " ".join(text.lower().split())
    if name in _PARENT_IF_WORDS:
        parent, words = _PARENT_IF_WORDS[name]
        return parent if words in flat else name
    if name in _VARIANT_WORDS:
        parent, words = _VARIANT_WORDS[name]
        return name if words in flat else parent
    m = re.match(r"^(GFDL-1\.[123])-(?:no-)?invariants-(only|or-later)$", name)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    return name


# --- repositories --------------------------------------------------------------------------------------

def is_licence_file_name(name: str) -> bool:
    """LICENSE, licence.txt, COPYING.LESSER, LICENSE-MIT, UNLICENSE, MIT-LICENSE.md, ... (not license.py)."""
    if not _NAME.match(name):
        return False
    suffix = Path(name).suffix.lower()
    return suffix in _TEXT_SUFFIXES or not suffix.lstrip(".").isalpha() or "-" in name or "_" in name \
        or suffix in {".mit", ".apache", ".apache2", ".bsd", ".gpl", ".lgpl", ".mpl", ".isc", ".lesser"}


def licence_files(root: Path) -> list[Path]:
    """The licence files at `root` (not below it), sorted by name."""
    try:
        entries = sorted(p for p in root.iterdir() if is_licence_file_name(p.name))
    except OSError:
        return []
    return [p for p in entries if p.is_file() and not p.is_symlink()]


def licence_of_repository(root: Path, threshold: float = DEFAULT_THRESHOLD) -> Licence:
    """A repository's licence from its licence files, then its manifests; `unknown` when neither says."""
    files = licence_files(Path(root))
    found: list[tuple[str, Licence]] = []
    for path in files:
        try:
            with path.open("rb") as f:
                text = f.read(MAX_LICENCE_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        result = identify_text(text, threshold)
        if result.known:
            found.append((path.name, result))
    manifest = licence_of_manifests(Path(root))
    if found:
        ids = list(dict.fromkeys(r.spdx for _, r in found))
        source = "licence_file:" + "+".join(n for n, _ in found)
        scores = [r.score for _, r in found if r.score is not None]
        score = min(scores) if scores else None
        if manifest.known and manifest.spdx != combine(ids, "AND") and (
                (len(ids) > 1 and _keys(ids) <= _keys([manifest.spdx]))
                or _bases(_keys(ids)) == _bases(_keys([manifest.spdx]))):
            # The files say which licences; the manifest says how they combine (orjson's three
            # LICENSE-* files are `MPL-2.0 AND (Apache-2.0 OR MIT)` by its metadata), and whether
            # "or later" (a GPL text cannot: yamllint's LICENSE is GPL-3.0, its pyproject
            # GPL-3.0-or-later).
            return Licence(manifest.spdx, f"{source}+{manifest.source}", score)
        dual = len(ids) == 2 and all(_DUAL.match(name) for name, _ in found)  # LICENSE-MIT + LICENSE-APACHE
        return Licence(combine(ids, "OR" if dual else "AND"), source, score)
    if manifest.known:
        return manifest
    return Licence(UNKNOWN, "licence_file:" + "+".join(p.name for p in files) if files else "none")


def licence_of_manifests(root: Path) -> Licence:
    """The licence a package manifest at `root` declares (the first manifest that declares one)."""
    candidates = [root / name for name in MANIFESTS]
    try:
        candidates += sorted(root.glob("*.gemspec"))
    except OSError:
        pass
    for path in candidates:
        if not path.is_file():
            continue
        try:
            raw = path.read_bytes()[:MAX_LICENCE_BYTES].decode("utf-8", errors="replace")
        except OSError:
            continue
        expr = licence_from_manifest(path.name, raw)
        if expr != UNKNOWN:
            return Licence(expr, f"manifest:{path.name}")
    return Licence(UNKNOWN, "none")


def licence_from_manifest(name: str, text: str) -> str:
    """SPDX expression declared by a manifest's text (`name` says which format), or unknown."""
    try:
        if name in ("package.json", "composer.json"):
            data = json.loads(text)
            value = data.get("license") or data.get("licenses") if isinstance(data, dict) else None
            return _from_declared(value)
        if name in ("Cargo.toml", "pyproject.toml"):
            data = tomllib.loads(text)
            if name == "Cargo.toml":
                value = (data.get("package") or {}).get("license") or (data.get("workspace", {}).get("package")
                                                                         or {}).get("license")
                return _from_declared(value.replace("/", " OR ") if isinstance(value, str) else value)
            project = data.get("project") or {}
            value = project.get("license") or (data.get("tool", {}).get("poetry") or {}).get("license")
            if isinstance(value, dict):
                value = value.get("text")
            if value:
                return _from_declared(value)
            return _from_classifiers(project.get("classifiers") or ())
        if name == "setup.cfg":
            import configparser

            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            meta = parser["metadata"] if parser.has_section("metadata") else {}
            value = meta.get("license_expression") or meta.get("license")
            if value and value.strip() and "\n" not in value.strip():
                return _from_declared(value)
            return _from_classifiers((meta.get("classifiers") or "").splitlines())
        if name == "PKG-INFO" or name == "METADATA":
            return licence_from_metadata(email.parser.Parser().parsestr(text, headersonly=True))
        if name.endswith(".gemspec"):
            m = re.search(r"\.licen[sc]es?\s*=\s*\[?\s*([\"'][^\]\n]+)", text)
            if m:
                values = re.findall(r"[\"']([^\"']+)[\"']", m.group(1))
                return _from_declared(values)
    except (ValueError, TypeError, AttributeError, KeyError, tomllib.TOMLDecodeError, Exception) as exc:  # noqa: BLE001
        # A broken manifest is no evidence (its repository falls back to unknown); the reader never fails on it.
        del exc
    return UNKNOWN


def licence_from_metadata(meta) -> str:
    """SPDX expression from a distribution's core metadata: PEP 639 `License-Expression`, then a
    one-line `License`, then the trove classifiers, then a `License` field holding a full text."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return normalise_expression(expression)
    short = (meta.get("License") or "").strip()
    if short and "\n" not in short and len(short) < 100:
        value = normalise_expression(short)
        if value != UNKNOWN:
            return value
    value = _from_classifiers(meta.get_all("Classifier") or ())
    if value != UNKNOWN:
        return value
    if short and "\n" in short:
        return identify_text(short).spdx
    return UNKNOWN


_CLASSIFIERS = {
    "MIT License": "MIT", "MIT No Attribution License (MIT-0)": "MIT-0", "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause", "Python Software Foundation License": "PSF-2.0", "ISC License (ISCL)": "ISC",
    "The Unlicense (Unlicense)": "Unlicense", "zlib/libpng License": "Zlib",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only", "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0", "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
}


def _from_classifiers(classifiers: Iterable[str]) -> str:
    ids = [_CLASSIFIERS[c.rsplit(" :: ", 1)[-1].strip()] for c in classifiers
           if c.strip().startswith("License ::") and c.rsplit(" :: ", 1)[-1].strip() in _CLASSIFIERS]
    return combine(list(dict.fromkeys(ids)), "OR") if ids else UNKNOWN  # several classifiers: a choice


def _from_declared(value) -> str:
    """A manifest's `license` value: an expression, a list of them (a choice, as npm's old
    `licenses` and composer's list), or `{"type": ...}` objects."""
    if isinstance(value, dict):
        value = value.get("type") or value.get("name")
    if isinstance(value, (list, tuple)):
        parts = [_from_declared(v) for v in value]
        parts = [p for p in parts if p != UNKNOWN]
        return combine(list(dict.fromkeys(parts)), "OR") if parts else UNKNOWN
    if not isinstance(value, str) or not value.strip():
        return UNKNOWN
    return normalise_expression(value)


# --- expressions ---------------------------------------------------------------------------------------

_ALIASES = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT", "expat": "MIT", "apache 2.0": "Apache-2.0",
    "apache2": "Apache-2.0", "apache-2": "Apache-2.0", "apache 2": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache software license": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0", "asl 2.0": "Apache-2.0", "bsd": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause", "new bsd license": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause", "modified bsd": "BSD-3-Clause", "simplified bsd": "BSD-2-Clause",
    "2-clause bsd": "BSD-2-Clause", "psf": "PSF-2.0", "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0", "isc license": "ISC", "gpl": "GPL-2.0-or-later",
    "gplv2": "GPL-2.0-only", "gplv3": "GPL-3.0-only", "lgpl": "LGPL-2.1-or-later", "lgplv3": "LGPL-3.0-only",
    "mpl 2.0": "MPL-2.0", "mpl-2": "MPL-2.0", "public domain": "Unlicense",
}


@cache
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@lru_cache(maxsize=4096)
def normalise_expression(value: str) -> str:
    """An SPDX expression in canonical form (`apache-2.0 or mit` -> `Apache-2.0 OR MIT`), a common
    free-form name mapped (`Apache 2.0`, `new BSD`), or unknown when it names no SPDX licence."""
    value = " ".join(str(value).split())
    if not value or value.lower() in (UNKNOWN, "none", "unlicensed", "see license", "other", "proprietary", "noassertion"):
        return UNKNOWN
    alias = _ALIASES.get(value.lower()) or _ALIASES.get(value.lower().removesuffix(" license"))
    if alias:
        return alias
    try:
        parsed = _licensing().parse(value, validate=False, strict=False)
    except Exception:  # license_expression's ExpressionError family: not an expression
        return UNKNOWN
    if parsed is None or _licensing().unknown_license_keys(parsed):
        return UNKNOWN
    return str(parsed)


def _keys(exprs: list[str]) -> set[str]:
    keys: set[str] = set()
    for e in exprs:
        node = _parse(e)
        keys |= {str(k).lower() for k in (_licensing().license_keys(node) if node is not None else ())}
    return keys


def _bases(keys: set[str]) -> set[str]:
    return {re.sub(r"-(only|or-later)$", "", k) for k in keys}


def combine(exprs: list[str], op: str) -> str:
    """`exprs` joined with AND or OR (compound parts parenthesised); one expression stays as it is."""
    if not exprs:
        return UNKNOWN
    if len(exprs) == 1:
        return exprs[0]
    return f" {op} ".join(f"({e})" if " " in e else e for e in exprs)


def _allowed(permissive: Iterable[str]) -> frozenset[str]:
    return frozenset(k.lower() for k in permissive)


def is_permissive(spdx: str | list[str], permissive: Iterable[str] = PERMISSIVE) -> bool:
    """True when the expression can be satisfied with permissive licences only: `MIT`,
    `MIT OR GPL-3.0`, `(MIT OR GPL-2.0) AND Apache-2.0 WITH LLVM-exception` (an exception only adds
    permissions); `MIT AND GPL-2.0` is not. A list (The Stack v1's `licenses`) must be permissive
    as a whole (AND). `unknown`, empty and unparsable expressions are not permissive."""
    if isinstance(spdx, (list, tuple)):
        return bool(spdx) and all(is_permissive(s, permissive) for s in spdx)
    node = _parse(spdx)
    return node is not None and _satisfiable(node, _allowed(permissive))


def blocking_licences(spdx: str | list[str], permissive: Iterable[str] = PERMISSIVE) -> list[str]:
    """The non-permissive ids that make an expression non-permissive (`MIT AND GPL-2.0-only` ->
    `["GPL-2.0-only"]`): what a removal names."""
    if isinstance(spdx, (list, tuple)):
        return list(dict.fromkeys(x for s in spdx for x in blocking_licences(s, permissive)))
    node = _parse(spdx)
    if node is None:
        return []
    allowed = _allowed(permissive)
    return sorted({_symbol_id(s) for s in node.symbols
                   if not _satisfiable(s, allowed)} if not _satisfiable(node, allowed) else set())


def _symbol_id(symbol) -> str:
    """A symbol's licence id; `GPL-2.0-only WITH Classpath-exception-2.0` names its licence."""
    return str(getattr(symbol, "license_symbol", symbol).key)


def is_copyleft(spdx_id: str) -> bool:
    return spdx_id.startswith(COPYLEFT_PREFIXES)


def _parse(spdx: str):
    if not spdx or spdx == UNKNOWN:
        return None
    try:
        return _licensing().parse(spdx)
    except Exception:  # license_expression raises its own ExpressionError family on bad syntax
        return None


def _satisfiable(node, allowed: frozenset[str]) -> bool:
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(node, LicenseWithExceptionSymbol):
        return _satisfiable(node.license_symbol, allowed)
    if isinstance(node, LicenseSymbol):  # the key is canonical (`GPL-2.0` parses as `GPL-2.0-only`)
        return node.key.lower() in allowed or any(a.lower() in allowed for a in node.aliases or ())
    if isinstance(node, OR):
        return any(_satisfiable(arg, allowed) for arg in node.args)
    if isinstance(node, AND):
        return all(_satisfiable(arg, allowed) for arg in node.args)
    return False


def text_fingerprint(text: str) -> str:
    """A short hash of a licence text without its copyright lines (two copies of MIT agree)."""
    return hashlib.blake2b(_normalise_for_cache(text).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
