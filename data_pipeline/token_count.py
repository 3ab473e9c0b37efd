"""Tokens per document for the funnel report (`metadata.tokens`), counted once per text.

Curation runs before the project's tokenizer exists (it is trained on curate's output), so the
default count needs no tokenizer: `code` counts identifier runs and single non-space symbols, the
units a code BPE rarely merges across (StarCoder's tokenizer gives about 0.9-1.3 tokens per such
unit on source code). Given a `tokenizer.json` (StarCoder's, or a previous run's), the count is
that tokenizer's, batched through `tokenizers`.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from data_pipeline.filters.registry import register_filter

if TYPE_CHECKING:
    from datatrove.pipeline.writers.disk_base import DiskWriter


CODE_TOKEN = re.compile(r"[A-Za-z_0-9]+|[^\sA-Za-z_0-9]")
_IDENT = np.zeros(256, dtype=bool)
_IDENT[list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")] = True
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what `\s` matches below 128 (str.isspace)


def code_units(text: str) -> int:
    """`len(CODE_TOKEN.findall(text))`, in numpy for ASCII text (3-4x faster: the regex was the
    chain's costliest step, bench/data_pipeline.py --profile): identifier runs plus the bytes that
    are neither identifier nor space."""
    if not text.isascii():
        return len(CODE_TOKEN.findall(text))
    b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    ident = _IDENT[b]
    runs = np.count_nonzero(ident[1:] & ~ident[:-1]) + bool(len(b) and ident[0])
    return int(runs + np.count_nonzero(~(ident | _SPACE[b])))


@register_filter(55, drops=False)
class TokenCount(PipelineStep):
    """Sets `metadata.tokens` on every document that has none yet (a converted notebook gets a
    fresh count; files that never decoded keep none and count as 0)."""

    type = "📊 - STATS"
    name = "token count"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(cfg.count_tokens) if cfg.count_tokens else None

    def __init__(self, tokenizer: str = "code", batch_size: int = 256):
        super().__init__()
        self.tokenizer, self.batch_size = tokenizer, batch_size

    @cached_property
    def _bpe(self):
        from starforge.formats.tokenizer import load_tokenizer

        return load_tokenizer(self.tokenizer)  # escaped: counts what `tokenize` will write

    def count(self, texts: list[str]) -> list[int]:
        if self.tokenizer == "code":
            return [code_units(t) for t in texts]
        return [len(e.ids) for e in self._bpe.encode_batch(texts, add_special_tokens=False)]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        batch: list[Document] = []
        for doc in data:
            if "tokens" in doc.metadata:
                yield doc
                continue
            batch.append(doc)
            if len(batch) >= self.batch_size:
                yield from self._flush(batch)
                batch = []
        yield from self._flush(batch)

    def _flush(self, batch: list[Document]) -> list[Document]:
        with self.track_time():
            for doc, n in zip(batch, self.count([d.text for d in batch])):
                doc.metadata["tokens"] = n
                self.stat_update("tokens", value=n)
        return batch
