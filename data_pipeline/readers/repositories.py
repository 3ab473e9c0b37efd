"""datatrove reader for source files: one Document per file, its raw bytes in `media[0]`.

The reader only reads; deciding what to keep is the filters' job, so every file leaves the reader
as a document and ends in kept/ or removed/<step>/. Files over `max_bytes` are not read (their
size comes from `stat`), so a huge file costs nothing; unreadable ones carry `read_error`, and a
link leaving its repository is never read (`link_outside`: removed as `link_outside_repository`).

A file whose first 4 KB hold an `SPDX-License-Identifier:` line takes that licence over its
repository's (`licence_source: spdx_header`), the first rung of the evidence order in
starforge/formats/licences.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.pipeline.readers.base import BaseReader

from data_pipeline.readers.languages import language_of
from data_pipeline.readers.sources import BUILTIN_STDLIB, SourceFile, list_sources, load_listing
from starforge.formats.licences import spdx_header

SPDX_PROBE = 4096
"""Bytes at the top of a file searched for an SPDX header (REUSE puts it in the first comment)."""


class RepositoryReader(BaseReader):
    """Reads `source` (a folder of repositories or `builtin:stdlib`), or the files of a `listing`
    saved by `save_listing` (curate saves one, so all tasks see the same files even if the input
    changes while they run). Each task reads one contiguous slice of the sorted files, so
    concatenating the tasks' outputs keeps corpus order."""

    name = "repositories"

    def __init__(self, source: str = BUILTIN_STDLIB, max_bytes: int = 1_000_000,
                 include_site_packages: bool = False, site_packages: list[str] | None = None,
                 listing: str | None = None):
        super().__init__()
        self.listing = listing
        self.source = source
        self.max_bytes = max_bytes
        self.include_site_packages = include_site_packages
        self.site_packages = site_packages

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        if self.listing:
            files = load_listing(Path(self.listing))
        else:
            files = list_sources(self.source, self.include_site_packages, self.site_packages)
        lo, hi = rank * len(files) // world_size, (rank + 1) * len(files) // world_size
        for source_file in files[lo:hi]:
            with self.track_time():
                doc = read_source_file(source_file, self.max_bytes)
            self.stat_update("documents")
            self.stat_update("bytes", value=doc.metadata["size"])
            yield doc


def read_source_file(source_file: SourceFile, max_bytes: int) -> Document:
    """A Document with text "" and the file's bytes (at most `max_bytes` + 1) in `media[0].media_bytes`;
    `media_bytes` stays None when the file is larger than `max_bytes` or cannot be read."""
    metadata = {"repo": source_file.repo, "path": source_file.path, "lang": language_of(source_file.path),
                "licence": source_file.licence, "licence_source": source_file.licence_source, "size": 0}
    if source_file.commit:
        metadata["commit"] = source_file.commit
    if source_file.stars:
        metadata["stars"] = source_file.stars
    if source_file.updated:
        metadata["updated"] = source_file.updated
    media = Media(id=source_file.id, type=MediaType.DOCUMENT, url=source_file.abs_path)
    if source_file.link_outside:
        metadata["read_error"] = "a link to a file outside its repository"
        metadata["link_outside"] = True
        return Document(text="", id=source_file.id, media=[media], metadata=metadata)
    try:
        st = os.stat(source_file.abs_path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError("not a regular file")
        metadata["size"] = st.st_size
        if st.st_size <= max_bytes:
            with open(source_file.abs_path, "rb") as f:
                media.media_bytes = f.read(max_bytes + 1)  # +1: a file that grew since stat still reads as too large
            metadata["size"] = max(st.st_size, len(media.media_bytes))
            head = media.media_bytes[:SPDX_PROBE]
            if b"SPDX-License-Identifier" in head:
                header = spdx_header(head.decode("utf-8", "replace"))
                if header:
                    metadata["licence"], metadata["licence_source"] = header, "spdx_header"
    except OSError as exc:
        metadata["read_error"] = exc.strerror or str(exc)
    return Document(text="", id=source_file.id, media=[media], metadata=metadata)
