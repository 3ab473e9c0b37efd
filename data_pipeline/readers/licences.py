"""Licence of a repository or an installed distribution, as an SPDX id, or `"unknown"`.

A small phrase-based detector for the common permissive licences, enough to label the embedded
corpus and typical repositories; it is not a legal tool. It reads the repository's licence file
(LICENSE, COPYING, ...) and, for installed distributions, the core-metadata fields
(`License-Expression`, then the trove classifiers, then `License`). Anything it cannot tell
apart is `"unknown"`, never a guess.
"""

from __future__ import annotations

import re
from email.message import Message
from functools import cache
from pathlib import Path

UNKNOWN = "unknown"

LICENCE_FILE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENSE.rst", "LICENCE", "LICENCE.txt",
                      "COPYING", "COPYING.txt", "COPYING.md")
"""Looked up in this order at the top of a repository."""

PERMISSIVE = frozenset({
    "MIT", "MIT-0", "MIT-CMU", "MIT-feh", "X11", "Apache-1.1", "Apache-2.0", "BSD-1-Clause", "BSD-2-Clause",
    "BSD-2-Clause-Patent", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD-4-Clause", "0BSD", "PSF-2.0", "Python-2.0",
    "Python-2.0.1", "CNRI-Python", "ISC", "Unlicense", "CC0-1.0", "CC-BY-3.0", "CC-BY-4.0", "Zlib",
    "zlib-acknowledgement", "BSL-1.0", "HPND", "NCSA", "PostgreSQL", "UPL-1.0", "MS-PL", "AFL-3.0", "ECL-2.0",
    "EFL-2.0", "Artistic-2.0", "WTFPL", "blessing", "OpenSSL", "libpng-2.0", "Unicode-DFS-2016", "Unicode-3.0",
    "W3C", "Xnet", "ZPL-2.1", "curl", "NTP",
})
"""Permissive licences (SPDX ids), after The Stack's list (arXiv 2211.15533, Appendix A);
`CurateConfig.permissive_licences` replaces it."""

# Licence texts are matched on whitespace-collapsed, lower-cased text; the phrases come from the
# SPDX reference texts (spdx.org/licenses). Order matters: PSF's text quotes no other licence, but
# BSD-3 must be tried before BSD-2 (it contains BSD-2's clauses).
_TEXT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PSF-2.0", ("python software foundation license version 2",)),
    ("PSF-2.0", ("psf license agreement", "python software foundation")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("MIT", ("permission is hereby granted, free of charge", "the software is provided \"as is\"")),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "endorse or promote products")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("ISC", ("permission to use, copy, modify, and", "distribute this software for any purpose with or without fee")),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",)),
    ("Zlib", ("this software is provided 'as-is'", "altered source versions must be plainly marked")),
)

_CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
}

_SHORT_NAMES = {
    "mit": "MIT", "mit license": "MIT", "apache 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0", "apache license, version 2.0": "Apache-2.0", "apache 2": "Apache-2.0",
    "apache software license": "Apache-2.0", "bsd": "BSD-3-Clause", "bsd-3-clause": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause", "bsd-2-clause": "BSD-2-Clause",
    "psf": "PSF-2.0", "psf-2.0": "PSF-2.0", "python software foundation license": "PSF-2.0", "isc": "ISC",
    "unlicense": "Unlicense", "zlib": "Zlib",
}


def licence_from_text(text: str) -> str:
    """SPDX id of a licence file's text, e.g. `"MIT"`; `"unknown"` when no rule matches."""
    flat = re.sub(r"\s+", " ", text[:20_000]).lower()
    for spdx, phrases in _TEXT_RULES:
        if all(p in flat for p in phrases):
            return spdx
    return UNKNOWN


def licence_of_repository(repo_dir: Path) -> str:
    """SPDX id from the first licence file found at the top of `repo_dir`."""
    for name in LICENCE_FILE_NAMES:
        path = repo_dir / name
        if path.is_file():
            try:
                with path.open("rb") as f:
                    return licence_from_text(f.read(64_000).decode("utf-8", errors="replace"))
            except OSError:
                return UNKNOWN
    return UNKNOWN


def licence_from_metadata(meta: Message) -> str:
    """SPDX id from a distribution's core metadata (PEP 639 expression, classifiers, then `License`)."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return _SHORT_NAMES.get(expression.lower(), expression)
    for classifier in meta.get_all("Classifier") or ():
        if classifier in _CLASSIFIERS:
            return _CLASSIFIERS[classifier]
    short = (meta.get("License") or "").strip()
    if short and "\n" not in short:
        return _SHORT_NAMES.get(short.lower().removesuffix(" license"), _SHORT_NAMES.get(short.lower(), UNKNOWN))
    if short:
        return licence_from_text(short)
    return UNKNOWN


def is_permissive(spdx: str | list[str], permissive: frozenset[str] | set[str] = PERMISSIVE) -> bool:
    """True when the SPDX expression can be satisfied with permissive licences only: `MIT`,
    `MIT OR GPL-3.0`, `(MIT OR GPL-2.0) AND Apache-2.0 WITH LLVM-exception` (an exception only
    adds permissions). A list (The Stack's `licenses`) must be permissive as a whole (AND).
    `unknown`, empty and unparsable expressions are not permissive."""
    if isinstance(spdx, (list, tuple)):
        return bool(spdx) and all(is_permissive(s, permissive) for s in spdx)
    if not spdx or spdx == UNKNOWN:
        return False
    try:
        expression = _licensing().parse(spdx)
    except Exception:  # license_expression raises its own ExpressionError family on bad syntax
        return False
    if expression is None:
        return False
    allowed = {key.lower() for key in permissive}
    return _satisfiable(expression, allowed)


@cache
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _satisfiable(node, allowed: set[str]) -> bool:
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
