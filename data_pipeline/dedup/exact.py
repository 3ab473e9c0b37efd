"""Exact deduplication by content hash, correct across any number of tasks.

datatrove's three-stage pattern (`pipeline/dedup/exact_dedup.py`): each task of stage 1 writes the
(sha256, id) of the documents it passes on; a single task of stage 2 groups them and keeps, in
every group, the document with the smallest id (corpus order, so the result does not depend on
the number of tasks); stage 3 drops the others with reason `exact_duplicate` and
`duplicate_of` naming the kept file. We do not reuse datatrove's blocks because their tie-break
between equal priorities falls back to per-task document indices, which changes with the task
count, and priorities are 16-bit. Stage 2 holds every signature in memory (~100 bytes a file);
past tens of millions of files it should bucket by hash prefix as datatrove's `finder_workers` do.
"""

from __future__ import annotations

import hashlib

import numpy as np
import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter

DUPLICATES_FILE = "duplicates.jsonl"


class ContentHashSignature(PipelineStep):
    """Stage 1: passes documents on, adds `metadata.sha256` (of the UTF-8 text, i.e. the file's
    bytes) and writes `[sha256, id]` lines to `<output_folder>/sigs/<rank>.jsonl`."""

    type = "🫂 - DEDUPS"
    name = "exact dedup signatures"

    def __init__(self, output_folder: DataFolderLike):
        super().__init__()
        self.output_folder = get_datafolder(output_folder)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        lines = []
        for doc in data:
            digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
            doc.metadata["sha256"] = digest
            lines.append(orjson.dumps([digest, doc.id]))
            self.stat_update("total")
            yield doc
        with self.output_folder.open(f"sigs/{rank:05d}.jsonl", "wb") as f:
            f.write(b"".join(line + b"\n" for line in lines))


class ExactDuplicateFinder(PipelineStep):
    """Stage 2 (one task): reads every stage-1 signature file and writes `duplicates.jsonl`, one
    `{"id", "duplicate_of"}` per document to drop, and `dead/<rank>.npy`, a bool per line of
    `sigs/<rank>.jsonl` (true: dropped), which near dedup's pair tasks read instead of ids."""

    type = "🫂 - DEDUPS"
    name = "exact dedup finder"

    def __init__(self, folder: DataFolderLike):
        super().__init__()
        self.folder = get_datafolder(folder)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("ExactDuplicateFinder must run as a single task")
        keeper: dict[str, str] = {}
        ids: list[tuple[str, str]] = []
        lines_of: dict[str, int] = {}
        for name in self.folder.list_files("sigs", glob_pattern="*.jsonl"):
            with self.folder.open(name, "rb") as f:
                for line in f:
                    digest, doc_id = orjson.loads(line)
                    ids.append((digest, doc_id))
                    if digest not in keeper or doc_id < keeper[digest]:
                        keeper[digest] = doc_id
            lines_of[name] = len(ids)
        duplicates = sorted((doc_id, keeper[digest]) for digest, doc_id in ids if keeper[digest] != doc_id)
        write_duplicates(self.folder, DUPLICATES_FILE, duplicates)
        start = 0
        for name, end in lines_of.items():
            dead = np.array([keeper[digest] != doc_id for digest, doc_id in ids[start:end]], dtype=bool)
            with self.folder.open(f"dead/{name.rsplit('/', 1)[-1].removesuffix('.jsonl')}.npy", "wb") as f:
                np.save(f, dead)
            start = end
        self.stat_update("signatures", value=len(ids))
        self.stat_update("duplicates", value=len(duplicates))
        return
        yield


def write_duplicates(folder, file: str, duplicates: list[tuple[str, str]]) -> None:
    """The finders' output: one `{"id", "duplicate_of"}` line per document to drop."""
    with folder.open(file, "wb") as f:
        for doc_id, kept_id in duplicates:
            f.write(orjson.dumps({"id": doc_id, "duplicate_of": kept_id}) + b"\n")


def read_duplicate_ids(folder, file: str) -> dict[str, str]:
    """{id: duplicate_of} from a finder's output file."""
    with folder.open(file, "rb") as f:
        return {r["id"]: r["duplicate_of"] for r in map(orjson.loads, f)}


class ListedDuplicateFilter(CountingFilter):
    """Stage 3 of a dedup: drops the documents its stage-2 finder listed in `file`, recording
    `duplicate_of` (the kept one) and `reason`."""

    file: str
    reason: str
    required = True
    """False: a missing list means no duplicates (its finder may have had nothing to compare)."""

    def __init__(self, folder: DataFolderLike, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.folder = get_datafolder(folder)
        self._duplicate_of: dict[str, str] | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._duplicate_of is None:
            self._duplicate_of = ({} if not self.required and not self.folder.exists(self.file)
                                  else read_duplicate_ids(self.folder, self.file))
        kept_id = self._duplicate_of.get(doc.id)
        if kept_id is not None:
            doc.metadata["duplicate_of"] = kept_id
            return False, self.reason
        return True


class ExactDuplicateFilter(ListedDuplicateFilter):
    """Stage 3: drops the documents stage 2 listed, with reason `exact_duplicate`."""

    name = "exact_dedup"
    file = DUPLICATES_FILE
    reason = "exact_duplicate"
