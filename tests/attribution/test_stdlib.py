"""End to end on the whole stdlib (~31 MB of .py): slow, run by `make test`."""

from __future__ import annotations

import ast
import random

import pytest
from attribution_corpus import STDLIB, function_lines, lines_of

from attribution import Attributor, build_index
from attribution.config import AttributionConfig, SourceConfig


@pytest.mark.slow
def test_stdlib_functions_found_with_file_and_lines(tmp_path):
    cfg = AttributionConfig(input=STDLIB, output=tmp_path / "idx",
                            source=SourceConfig(extensions=[".py"]))
    manifest = build_index(cfg)
    assert manifest["totals"]["text_bytes"] > 10_000_000
    rng = random.Random(0)
    modules = ["textwrap.py", "argparse.py", "json/decoder.py", "email/utils.py", "asyncio/tasks.py"]
    with Attributor(tmp_path / "idx") as att:
        for rel in modules:
            tree = ast.parse((STDLIB / rel).read_text(encoding="utf-8"))
            names = sorted({n.name for n in tree.body if isinstance(n, ast.FunctionDef)})
            name = rng.choice(names)
            start, end = function_lines(STDLIB / rel, name)
            result = att.check(lines_of(STDLIB / rel, start, end))
            longest = [m for m in result["exact"] if m["length"] == result["exact"][0]["length"]]
            repo = rel.split("/")[0] if "/" in rel else STDLIB.name
            path = rel.split("/", 1)[1] if "/" in rel else rel
            # A function copied elsewhere in the stdlib (tests, lib2to3) matches there too.
            assert (repo, path, start, end) in {(m["repo"], m["path"], m["start_line"], m["end_line"]) for m in longest}, name
            assert result["membership"] >= 0.5
