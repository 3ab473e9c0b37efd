"""Readers for records in The Stack's schema (v1, and v2 in readers/stack_v2.py, told apart per
row by its columns: v2 rows have `blob_id` and `repo_name`): JSONL / Parquet files, or a
`datasets` dataset (a hub name, streamed, or a local dataset directory).

v1's columns:

    content, max_stars_repo_name, max_stars_repo_path, max_stars_count, lang,
    max_stars_repo_licenses (or licenses), max_stars_repo_stars_event_max_datetime, hexsha, size

become a document with the same metadata as a folder input: `repo`, `path` (repo-relative, as
in The Stack), `lang` (from the path by languages.yaml, else the record's `lang`), `licence`
(the licence list joined with AND: every licence The Stack detected must be permissive),
`stars`, `updated`, `size`. Ids are `repo/path` (then `<source>/<row>` when those are missing),
unique as The Stack keeps one path per content and repository.

datatrove's readers skip records whose text is empty; an empty `content` is read as one space,
so the empty filter removes it with a reason rather than the reader dropping it silently. For the
same reason a JSONL line that is not a JSON object, and a row whose `content` is not a string,
become a document with `invalid_record` (removed as `invalid_record`, counted, in
removed/unreadable/), where datatrove's JsonlReader would log a warning and drop the line.
A `.parquet` input that is not Parquet is a one-line error before any task starts.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.readers.huggingface import HuggingFaceDatasetReader
from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.pipeline.readers.parquet import ParquetReader

from data_pipeline.readers.languages import UNKNOWN, language_of
from data_pipeline.readers.stack_v2 import BlobStore, is_v2, v2_document
from starforge.errors import DataError
from starforge.formats.licences import UNKNOWN as UNKNOWN_LICENCE
from starforge.formats.licences import combine, normalise_expression, spdx_header


def stack_adapter(self, data: dict, path: str, id_in_file: int | str) -> dict:
    if is_v2(data):
        store = getattr(self, "blob_store", None)
        return v2_document(data, path, id_in_file, BlobStore(store) if store else None)
    content = data.get("content")
    if content is None:
        content = data.get("text") or ""
    invalid = None
    if not isinstance(content, str):
        invalid, content = f"`content` is {type(content).__name__}, not a string", ""
    repo = data.get("max_stars_repo_name") or data.get("repo_name") or data.get("repo") or ""
    file_path = data.get("max_stars_repo_path") or data.get("path") or ""
    licences = data.get("max_stars_repo_licenses") or data.get("licenses") or data.get("license") or []
    if isinstance(licences, str):
        licences = [licences]
    licences = [str(x) for x in licences if x]
    lang = language_of(file_path) if file_path else UNKNOWN
    if lang == UNKNOWN and data.get("lang"):
        lang = str(data["lang"])
    licence, source = UNKNOWN_LICENCE, "none"
    header = spdx_header(content[:4096]) if "SPDX-License-Identifier" in content[:4096] else None
    if header:
        licence, source = header, "spdx_header"
    elif licences:
        licence = combine([normalise_expression(x) if normalise_expression(x) != UNKNOWN_LICENCE else x
                           for x in licences], "AND")
        source = "stack:licenses"
    metadata = {
        "repo": repo, "path": file_path, "lang": lang, "licence": licence, "licence_source": source,
        "size": len(content.encode("utf-8", "surrogatepass")),
        "stars": int(data.get("max_stars_count") or data.get("stars") or 0),
        "updated": str(data.get("max_stars_repo_stars_event_max_datetime") or data.get("updated") or ""),
    }
    if data.get("hexsha"):
        metadata["hexsha"] = data["hexsha"]
    if invalid:
        metadata["read_error"], metadata["invalid_record"] = invalid, True
    doc_id = f"{repo}/{file_path}" if repo and file_path else f"{path}/{id_in_file}"
    return {"text": content or " ", "id": doc_id, "media": [], "metadata": metadata}


class StackJsonlReader(JsonlReader):
    """datatrove's JsonlReader, with a line that is not a JSON object read as an `invalid_record`
    document (its file and line in `read_error`) instead of a warning in the task log."""

    name = "stack jsonl"

    def __init__(self, *args, blob_store: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.blob_store = blob_store

    def read_file(self, filepath: str):
        import orjson

        with self.data_folder.open(filepath, "r", compression=self.compression, errors="replace") as f:
            for li, line in enumerate(f):
                with self.track_time():
                    try:
                        data = orjson.loads(line)
                        if not isinstance(data, dict):
                            raise ValueError(f"a JSON {type(data).__name__}, not an object")
                        document = self.get_document_from_dict(data, filepath, li)
                    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
                        document = invalid_record(filepath, li, str(exc).splitlines()[0], len(line))
                if document:
                    yield document


class StackParquetReader(ParquetReader):
    name = "stack parquet"

    def __init__(self, *args, blob_store: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.blob_store = blob_store


def invalid_record(filepath: str, line: int, why: str, size: int) -> Document:
    return Document(text=" ", id=f"{filepath}:{line + 1}", metadata={
        "repo": "", "path": "", "lang": UNKNOWN, "licence": UNKNOWN_LICENCE, "size": size,
        "read_error": f"{filepath} line {line + 1}: not a record ({why})", "invalid_record": True})


def check_parquet(paths: list[Path]) -> None:
    """A one-line error for a `.parquet` file that is not Parquet (before tasks start and fail)."""
    import pyarrow.parquet as pq

    for path in paths:
        try:
            pq.read_metadata(path)
        except Exception as exc:  # noqa: BLE001 (pyarrow's ArrowInvalid/OSError family)
            raise DataError(f"{path}: not a Parquet file ({str(exc).splitlines()[0]}); "
                            "pass Parquet or JSONL files in The Stack's schema") from None


def stack_files_reader(folder: str, glob_pattern: str | None, parquet: bool, blob_store: str | None = None):
    if parquet:
        return StackParquetReader(folder, glob_pattern=glob_pattern, adapter=stack_adapter, recursive=True,
                                  blob_store=blob_store)
    return StackJsonlReader(folder, glob_pattern=glob_pattern, adapter=stack_adapter, recursive=True,
                            add_file_path=False, blob_store=blob_store)


def stack_dataset_reader(dataset: str, split: str = "train", streaming: bool = True):
    """A hub dataset name (streamed) or a local dataset folder (data files or `save_to_disk`)."""
    from pathlib import Path

    if Path(dataset, "dataset_info.json").is_file() or Path(dataset, "state.json").is_file():
        return HuggingFaceDatasetReader(dataset, load_from_disk=True, adapter=stack_adapter)
    return HuggingFaceDatasetReader(dataset, dataset_options={"split": split}, streaming=streaming,
                                    adapter=stack_adapter)
