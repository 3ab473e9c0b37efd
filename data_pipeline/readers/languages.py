"""Programming language of a file, from its extension (or its whole name for extension-less build files).

A small table for now; issue 8 replaces it with the linguist-derived mapping of The Stack.
"""

from __future__ import annotations

from pathlib import PurePosixPath

EXTENSION_LANG: dict[str, str] = {
    ".py": "Python", ".pyi": "Python", ".pyw": "Python", ".pyx": "Cython", ".pxd": "Cython",
    ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++", ".hh": "C++",
    ".java": "Java", ".kt": "Kotlin", ".scala": "Scala", ".go": "Go", ".rs": "Rust", ".rb": "Ruby",
    ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript", ".ts": "TypeScript", ".tsx": "TypeScript",
    ".php": "PHP", ".cs": "C#", ".swift": "Swift", ".lua": "Lua", ".r": "R", ".jl": "Julia", ".pl": "Perl",
    ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell", ".ps1": "PowerShell", ".bat": "Batchfile",
    ".sql": "SQL", ".html": "HTML", ".htm": "HTML", ".css": "CSS", ".scss": "SCSS", ".xml": "XML",
    ".json": "JSON", ".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".ini": "INI", ".cfg": "INI",
    ".md": "Markdown", ".rst": "reStructuredText", ".txt": "Text", ".tex": "TeX",
    ".ipynb": "Jupyter Notebook", ".cmake": "CMake", ".mk": "Makefile", ".asm": "Assembly", ".s": "Assembly",
    ".f90": "Fortran", ".hs": "Haskell", ".ml": "OCaml", ".ex": "Elixir", ".erl": "Erlang", ".dart": "Dart",
    ".vim": "Vim Script", ".el": "Emacs Lisp", ".lisp": "Common Lisp", ".clj": "Clojure", ".proto": "Protocol Buffer",
}

FILENAME_LANG: dict[str, str] = {
    "Makefile": "Makefile", "makefile": "Makefile", "GNUmakefile": "Makefile", "Dockerfile": "Dockerfile",
    "CMakeLists.txt": "CMake", "Setup": "Makefile",
}

UNKNOWN = "unknown"


def language_of(path: str) -> str:
    """`"Python"` for `pkg/mod.py`; `"unknown"` when neither the name nor the extension is in the tables."""
    name = PurePosixPath(path).name
    if name in FILENAME_LANG:
        return FILENAME_LANG[name]
    return EXTENSION_LANG.get(PurePosixPath(name).suffix.lower(), UNKNOWN)
