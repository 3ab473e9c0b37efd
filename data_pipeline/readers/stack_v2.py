"""Records in The Stack v2's schema (bigcode/the-stack-v2, arXiv 2402.19173 section 2):

    blob_id, directory_id, path, content_id, detected_licenses, license_type, repo_name,
    snapshot_id, revision_id, branch_name, visit_date, revision_date, committer_date, github_id,
    star_events_count, fork_events_count, gha_license_id, gha_event_created_at, gha_created_at,
    gha_language, src_encoding, language, is_vendor, is_generated, length_bytes, extension

and `content` when the rows carry it (the -dedup/-smol "full" exports do; the hub's main dataset
does not: its files live in Software Heritage's bucket under `content/<blob_id>`, gzip-compressed,
in `src_encoding`). A row is v2 when it has `blob_id` and `repo_name` (readers/stack.py decides
per row, so mixed folders read too). The document's metadata is the one every input gets: `repo`
(`owner/name`), `path` (repository-relative, v2's leading `/` dropped), `lang`, `licence` with
`licence_source`, `stars` (`star_events_count`) and `updated` (`revision_date`), both feeding
near dedup's keeper rule as v1's stars and dates do; plus `blob_id` and `commit` (`revision_id`).

Licence evidence, in order: an SPDX header in the content; `detected_licenses` (ScanCode's
findings for the repository, combined with AND as v1's list); `gha_license_id` (GitHub's);
otherwise unknown (`license_type` `no_license` says so outright).
"""

from __future__ import annotations

import gzip
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from data_pipeline.readers.languages import UNKNOWN, language_of
from starforge.errors import ConfigError
from starforge.formats.licences import UNKNOWN as UNKNOWN_LICENCE
from starforge.formats.licences import combine, normalise_expression, spdx_header

NO_LICENCE = {"", "NOASSERTION", "OTHER", "NONE", "no_license"}


def is_v2(data: dict) -> bool:
    return "blob_id" in data and "repo_name" in data


@dataclass
class BlobStore:
    """Fetches a v2 file's bytes by `blob_id`: a local folder (`<blob_id>` or `<blob_id>.gz`, as a
    mirror of the bucket would hold them), `s3://bucket/prefix` (boto3, the bucket Software
    Heritage publishes: `s3://softwareheritage/content`), or an http(s) URL template with
    `{blob_id}`. Gzip-compressed blobs are recognised by their magic bytes and decompressed."""

    location: str

    def __post_init__(self):
        loc = self.location
        if not (loc.startswith(("s3://", "http://", "https://")) or Path(loc).is_dir()):
            raise ConfigError(f"blob_store '{loc}': not a folder, an s3://bucket/prefix or an http(s) URL template")
        if loc.startswith(("http://", "https://")) and "{blob_id}" not in loc:
            raise ConfigError(f"blob_store '{loc}': an URL template needs `{{blob_id}}` where the id goes")

    @cached_property
    def _s3(self):
        try:
            import boto3
        except ImportError:
            raise ConfigError(f"blob_store '{self.location}': reading from S3 needs boto3 (pip install boto3)") from None
        return boto3.client("s3")

    def fetch(self, blob_id: str) -> bytes:
        """The blob's bytes; raises OSError (or boto3's errors) when it cannot be had."""
        loc = self.location
        if loc.startswith("s3://"):
            bucket, _, prefix = loc.removeprefix("s3://").partition("/")
            key = f"{prefix.rstrip('/')}/{blob_id}" if prefix else blob_id
            data = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        elif loc.startswith(("http://", "https://")):
            with urllib.request.urlopen(loc.format(blob_id=blob_id), timeout=60) as response:
                data = response.read()
        else:
            folder = Path(loc)
            path = folder / blob_id if (folder / blob_id).is_file() else folder / f"{blob_id}.gz"
            data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def v2_document(data: dict, source: str, id_in_file: int | str, blob_store: BlobStore | None) -> dict:
    """A datatrove document dict for one v2 row (its content fetched from `blob_store` when absent)."""
    repo = str(data.get("repo_name") or "")
    file_path = str(data.get("path") or "").lstrip("/")
    metadata: dict = {"repo": repo, "path": file_path, "blob_id": str(data.get("blob_id") or "")}
    lang = language_of(file_path) if file_path else UNKNOWN
    if lang == UNKNOWN and data.get("language"):
        lang = str(data["language"])
    metadata["lang"] = lang
    if data.get("revision_id"):
        metadata["commit"] = str(data["revision_id"])
    if data.get("star_events_count"):
        metadata["stars"] = int(data["star_events_count"])
    if data.get("revision_date"):
        metadata["updated"] = str(data["revision_date"])
    content = data.get("content")
    if content is None:
        content = _fetch(data, blob_store, metadata)
    elif not isinstance(content, str):
        metadata["read_error"] = f"`content` is {type(content).__name__}, not a string"
        metadata["invalid_record"] = True
        content = ""
    metadata["size"] = len(content.encode("utf-8", "surrogatepass")) if content else int(data.get("length_bytes") or 0)
    metadata["licence"], metadata["licence_source"] = _licence(data, content)
    doc_id = f"{repo}/{file_path}" if repo and file_path else f"{source}/{id_in_file}"
    return {"text": content or " ", "id": doc_id, "media": [], "metadata": metadata}


def _fetch(data: dict, blob_store: BlobStore | None, metadata: dict) -> str:
    blob_id = metadata["blob_id"]
    if blob_store is None:
        metadata["read_error"] = "no `content` in the row and no blob_store configured to fetch it by blob_id"
        return ""
    try:
        raw = blob_store.fetch(blob_id)
    except Exception as exc:  # noqa: BLE001 (boto3, urllib and the file system raise their own families)
        metadata["read_error"] = f"blob {blob_id} not fetched from {blob_store.location}: {exc}"
        return ""
    encoding = str(data.get("src_encoding") or "utf-8")
    try:
        return raw.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        metadata["read_error"] = f"blob {blob_id} does not decode as its src_encoding {encoding} ({exc})"
        return ""


def _licence(data: dict, content: str) -> tuple[str, str]:
    header = spdx_header(content[:4096]) if content and "SPDX-License-Identifier" in content[:4096] else None
    if header:
        return header, "spdx_header"
    detected = data.get("detected_licenses")
    if isinstance(detected, str):
        detected = [detected]
    ids = [normalise_expression(str(x)) for x in detected or () if str(x).strip().upper() not in NO_LICENCE]
    ids = [i for i in ids if i != UNKNOWN_LICENCE]
    if ids:
        return combine(list(dict.fromkeys(ids)), "AND"), "stack:detected_licenses"
    gha = str(data.get("gha_license_id") or "")
    if gha.upper() not in NO_LICENCE:
        expr = normalise_expression(gha)
        if expr != UNKNOWN_LICENCE:
            return expr, "stack:gha_license_id"
    return UNKNOWN_LICENCE, "stack:license_type" if data.get("license_type") else "none"
