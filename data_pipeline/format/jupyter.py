"""Jupyter notebooks in StarCoder's two forms (arXiv 2305.06161 section 3.1):

- script (`Jupyter Script`): code cells as code, markdown cells as comments, in jupytext's
  percent format (`# %%`, `# %% [markdown]`), in the kernel's comment syntax;
- structured (`Jupyter Structured`): the cells in order with their outputs,

      <jupyter_start><jupyter_text>MARKDOWN<jupyter_code>CODE<jupyter_output>OUTPUT ...

  outputs truncated to 1,000 characters, `<empty_output>` for a code cell without output.

The structured document's text is the cells' text only; its sentinels are in
`metadata.segments`, a list of [special token, number of characters of text that follow it],
which the shard writer turns into special ids (text inside cells stays escaped text, per
starforge/formats/tokenizer.py). The script keeps the notebook's id; the structured document gets
`<id>#structured` and `size` 0 (stats count the file's bytes once). Notebooks that are not valid
JSON notebooks are dropped as `invalid_notebook`, those without any non-blank cell as
`empty_notebook`. Near dedup only compares documents of the same language, so the two forms of
one notebook do not remove each other.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import count_dropped, count_in
from starforge.errors import ConfigError

NOTEBOOK = "Jupyter Notebook"
SCRIPT = "Jupyter Script"
STRUCTURED = "Jupyter Structured"
_COMMENT = {"python": "#", "r": "#", "julia": "#", "bash": "#", "ruby": "#", "perl": "#", "scala": "//",
            "java": "//", "javascript": "//", "typescript": "//", "c++": "//", "c": "//", "go": "//",
            "rust": "//", "kotlin": "//", "c#": "//", "sql": "--", "haskell": "--", "lua": "--", "matlab": "%",
            "octave": "%"}


@dataclass
class JupyterConfig:
    formats: list[str] = field(default_factory=lambda: ["script", "structured"])
    """Which forms to emit for each notebook: `script`, `structured`, or both (StarCoder trained on both)."""
    max_output_chars: int = 1000
    """Each cell's output is cut to this many characters (StarCoder: 1,000)."""

    def __post_init__(self):
        bad = [f for f in self.formats if f not in ("script", "structured")]
        if bad or not self.formats:
            raise ConfigError(f"jupyter.formats must be a non-empty subset of ['script', 'structured'], got {self.formats}")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _output_text(output: dict) -> str:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") in ("execute_result", "display_data"):
        text = output.get("data", {}).get("text/plain", "")
    elif output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", [])) or f"{output.get('ename', '')}: {output.get('evalue', '')}"
    else:
        text = ""
    return "".join(text) if isinstance(text, list) else str(text)


def load_notebook(text: str) -> tuple[list[dict], str]:
    """(cells, kernel language); ValueError if `text` is not a notebook."""
    nb = json.loads(text)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("no cells list")
    meta = nb.get("metadata") or {}
    lang = ((meta.get("language_info") or {}).get("name") or (meta.get("kernelspec") or {}).get("language")
            or "python")
    return [c for c in nb["cells"] if isinstance(c, dict)], str(lang).lower()


def to_script(cells: list[dict], lang: str) -> str:
    comment = _COMMENT.get(lang, "#")
    parts = []
    for cell in cells:
        src = _source(cell).rstrip("\n")
        if cell.get("cell_type") == "code":
            parts.append(f"{comment} %%\n{src}")
        elif cell.get("cell_type") == "markdown" and src.strip():
            body = "\n".join(f"{comment} {line}".rstrip() for line in src.splitlines())
            parts.append(f"{comment} %% [markdown]\n{body}")
    return "\n\n".join(parts) + "\n" if parts else ""


def to_structured(cells: list[dict], max_output_chars: int = 1000) -> tuple[str, list[list]]:
    """(text, segments): segments [[token, n_chars], ...] cover the text in order."""
    text: list[str] = []
    segments: list[list] = [["<jupyter_start>", 0]]

    def add(token: str, body: str) -> None:
        segments.append([token, len(body)])
        text.append(body)

    for cell in cells:
        kind = cell.get("cell_type")
        if kind == "markdown":
            add("<jupyter_text>", _source(cell))
        elif kind == "code":
            add("<jupyter_code>", _source(cell))
            output = "".join(_output_text(o) for o in cell.get("outputs") or () if isinstance(o, dict))
            if output.strip():
                add("<jupyter_output>", output[:max_output_chars])
            else:
                add("<empty_output>", "")
    return "".join(text), segments


class JupyterConverter(PipelineStep):
    """Turns each `Jupyter Notebook` document into its script and/or structured forms; other
    documents pass unchanged. Counts like a filter (total, forwarded, dropped_invalid_notebook,
    bytes_in, bytes_dropped) plus `added` for the second form."""

    name = "jupyter"
    type = "✂️ - FORMAT"

    def __init__(self, config: JupyterConfig | None = None, exclusion_writer: DiskWriter | None = None):
        super().__init__()
        self.config = config or JupyterConfig()
        self.exclusion_writer = exclusion_writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as writer:
            for doc in data:
                self.stat_update("total")
                count_in(self, doc)
                if doc.metadata.get("lang") != NOTEBOOK:
                    self.stat_update("forwarded")
                    yield doc
                    continue
                try:
                    cells, kernel = load_notebook(doc.text)
                    reason = None if any(_source(c).strip() for c in cells) else "empty_notebook"
                except (ValueError, TypeError, AttributeError):
                    reason = "invalid_notebook"
                if reason:
                    self.stat_update("dropped")
                    self.stat_update(f"dropped_{reason}")
                    count_dropped(self, doc)
                    if writer:
                        doc.metadata["filter_reason"] = reason
                        writer.write(doc, rank)
                    continue
                self.stat_update("forwarded")
                outputs = []
                base = {k: v for k, v in doc.metadata.items() if k != "tokens"}  # recounted downstream
                if "script" in self.config.formats:
                    outputs.append(Document(text=to_script(cells, kernel), id=doc.id,
                                            metadata={**base, "lang": SCRIPT}))
                if "structured" in self.config.formats:
                    text, segments = to_structured(cells, self.config.max_output_chars)
                    meta = {**base, "lang": STRUCTURED, "segments": segments}
                    doc_id = doc.id
                    if outputs:  # the second form of one file: its bytes are counted once, on the first
                        doc_id, meta["size"] = f"{doc.id}#structured", 0
                    outputs.append(Document(text=text, id=doc_id, metadata=meta))
                self.stat_update("added", value=len(outputs) - 1)
                yield from outputs
