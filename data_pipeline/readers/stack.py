"""Readers for records in The Stack's schema: JSONL / Parquet files, or a `datasets` dataset
(a hub name, streamed, or a local dataset directory).

    content, max_stars_repo_name, max_stars_repo_path, max_stars_count, lang,
    max_stars_repo_licenses (or licenses), max_stars_repo_stars_event_max_datetime, hexsha, size

become a document with the same metadata as a folder input: `repo`, `path` (repo-relative, as
in The Stack), `lang` (from the path by languages.yaml, else the record's `lang`), `licence`
(the licence list joined with AND: every licence The Stack detected must be permissive),
`stars`, `updated`, `size`. Ids are `repo/path` (then `<source>/<row>` when those are missing),
unique as The Stack keeps one path per content and repository.

datatrove's readers skip records whose text is empty; an empty `content` is read as one space,
so the empty filter removes it with a reason rather than the reader dropping it silently.
"""

from __future__ import annotations

from datatrove.pipeline.readers.huggingface import HuggingFaceDatasetReader
from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.pipeline.readers.parquet import ParquetReader

from data_pipeline.readers.languages import UNKNOWN, language_of
from data_pipeline.readers.licences import UNKNOWN as UNKNOWN_LICENCE


def stack_adapter(self, data: dict, path: str, id_in_file: int | str) -> dict:
    content = data.get("content")
    if content is None:
        content = data.get("text") or ""
    repo = data.get("max_stars_repo_name") or data.get("repo_name") or data.get("repo") or ""
    file_path = data.get("max_stars_repo_path") or data.get("path") or ""
    licences = data.get("max_stars_repo_licenses") or data.get("licenses") or data.get("license") or []
    if isinstance(licences, str):
        licences = [licences]
    licences = [str(x) for x in licences if x]
    lang = language_of(file_path) if file_path else UNKNOWN
    if lang == UNKNOWN and data.get("lang"):
        lang = str(data["lang"])
    metadata = {
        "repo": repo, "path": file_path, "lang": lang,
        "licence": " AND ".join(f"({x})" if " " in x else x for x in licences) if licences else UNKNOWN_LICENCE,
        "size": len(content.encode("utf-8", "surrogatepass")),
        "stars": int(data.get("max_stars_count") or data.get("stars") or 0),
        "updated": str(data.get("max_stars_repo_stars_event_max_datetime") or data.get("updated") or ""),
    }
    if data.get("hexsha"):
        metadata["hexsha"] = data["hexsha"]
    doc_id = f"{repo}/{file_path}" if repo and file_path else f"{path}/{id_in_file}"
    return {"text": content or " ", "id": doc_id, "media": [], "metadata": metadata}


def stack_files_reader(folder: str, glob_pattern: str | None, parquet: bool):
    if parquet:
        return ParquetReader(folder, glob_pattern=glob_pattern, adapter=stack_adapter, recursive=True)
    return JsonlReader(folder, glob_pattern=glob_pattern, adapter=stack_adapter, recursive=True, add_file_path=False)


def stack_dataset_reader(dataset: str, split: str = "train", streaming: bool = True):
    """A hub dataset name (streamed) or a local dataset folder (data files or `save_to_disk`)."""
    from pathlib import Path

    if Path(dataset, "dataset_info.json").is_file() or Path(dataset, "state.json").is_file():
        return HuggingFaceDatasetReader(dataset, load_from_disk=True, adapter=stack_adapter)
    return HuggingFaceDatasetReader(dataset, dataset_options={"split": split}, streaming=streaming,
                                    adapter=stack_adapter)
