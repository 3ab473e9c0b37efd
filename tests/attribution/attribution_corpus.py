"""Real stdlib source files as training sets, and helpers to cut snippets from them.

A module of its own (not conftest) so tests import it by a name no other test folder uses."""

from __future__ import annotations

import gzip
import json
import shutil
import sysconfig
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TEXTKIT = ("textwrap.py", "heapq.py", "bisect.py", "fnmatch.py", "shlex.py")
MIT = ("MIT License\n\nCopyright (c) 2024 Example\n\n"
       "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and "
       "associated documentation files (the \"Software\"), to deal in the Software without restriction, "
       "including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, "
       "and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so, "
       "subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be "
       "included in all copies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", "
       "WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF "
       "MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR "
       "COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, "
       "TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN "
       "THE SOFTWARE.\n")
"""The whole MIT text (SPDX's): the licence detector (starforge/formats/licences.py) recognises
licences by score, and one sentence of MIT scores too low to be called MIT."""


def make_corpus(root: Path) -> Path:
    """Two repositories: `textkit` (five stdlib modules, MIT LICENSE) and `jsonlib` (json/, re/_casefix.py)."""
    textkit = root / "textkit"
    textkit.mkdir(parents=True)
    for name in TEXTKIT:
        shutil.copy(STDLIB / name, textkit / name)
    (textkit / "LICENSE").write_text(MIT)
    json_dir = root / "jsonlib" / "json"
    json_dir.mkdir(parents=True)
    for path in sorted((STDLIB / "json").glob("*.py")):
        shutil.copy(path, json_dir / path.name)
    (root / "jsonlib" / "re").mkdir()
    shutil.copy(STDLIB / "re" / "_casefix.py", root / "jsonlib" / "re" / "_casefix.py")
    return root


def write_kept(path: Path, files: list[tuple[str, str, Path]], licence: str = "PSF-2.0") -> Path:
    """A kept shard as `starforge data` writes it: one record per (repo, path, source file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for repo, rel, src in files:
            record = {"text": src.read_text(encoding="utf-8"), "id": f"{repo}/{rel}",
                      "metadata": {"repo": repo, "path": rel, "licence": licence, "lang": "Python"}}
            fh.write(json.dumps(record) + "\n")
    return path


def lines_of(path: Path, start: int, end: int) -> str:
    """Lines start..end (1-based, inclusive) of a file, with their newlines."""
    return "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[start - 1:end])


def function_lines(path: Path, name: str) -> tuple[int, int]:
    import ast

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            return start, node.end_lineno
    raise LookupError(name)


# Code written for these tests; not in the stdlib.
UNSEEN = '''\
def rolling_checksum(chunks, window=16, modulus=65521):
    """Adler-like checksum over a sliding window of byte chunks, for a dedup test fixture."""
    acc_low, acc_high, history = 1, 0, []
    for chunk in chunks:
        for value in chunk:
            history.append(value)
            acc_low = (acc_low + value) % modulus
            acc_high = (acc_high + acc_low) % modulus
            if len(history) > window:
                dropped = history.pop(0)
                acc_low = (acc_low - dropped) % modulus
                acc_high = (acc_high - window * dropped - 1) % modulus
    return (acc_high << 16) | acc_low
'''


def serve_in_thread(index_dir: Path, cfg=None):
    """`starforge attribution serve`'s server on a free localhost port, in a daemon thread."""
    import threading

    from attribution.server import make_server

    server = make_server(index_dir, port=0, **({"cfg": cfg} if cfg is not None else {}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def server_url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def stop_server(server) -> None:
    server.shutdown()
    server.server_close()
    server.attributor.close()
