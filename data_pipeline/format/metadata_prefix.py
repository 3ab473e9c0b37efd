"""StarCoder's metadata prefixes (arXiv 2305.06161 section 5.1): a training sample may open with

    <reponame>REPO<filename>PATH<gh_stars>STARS\\n<code>

with PATH relative to the repository, each of the three fields present independently with
probability 0.2 (so most samples have none), stars as a bucket. The choice is a pure function
of (seed, document id): reproducible, and the same whatever the number of tasks.

The prefix is stored, not pasted into the text: `metadata.prefix` is a list of [special token,
value] pairs, and the shard writer (`tokenize/shards.py`) inserts the special tokens by id and
encodes the values as escaped text (the escaping policy in `starforge/formats/tokenizer.py`), so a
repository named `<fim_prefix>` cannot forge a sentinel and kept text stays the file exactly.
"""

from __future__ import annotations

import hashlib

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

STAR_BUCKETS = ((0, "0"), (1, "1-10"), (10, "10-100"), (100, "100-1000"), (1000, "1000+"))
"""(lowest star count, label): StarCoder's buckets."""


def star_bucket(stars: int) -> str:
    label = STAR_BUCKETS[0][1]
    for lowest, name in STAR_BUCKETS:
        if stars >= lowest:
            label = name
    return label


def _uniform(seed: int, doc_id: str, field: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x00{field}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class MetadataPrefixStep(PipelineStep):
    """Sets `metadata.prefix` (possibly empty) on every document; counts prefixes per field."""

    name = "metadata prefix"
    type = "✂️ - FORMAT"

    def __init__(self, probability: float = 0.2, seed: int = 0):
        super().__init__()
        self.probability = probability
        self.seed = seed

    def prefix_of(self, doc_id: str, metadata: dict) -> list[list[str]]:
        repo, path = metadata.get("repo"), metadata.get("path")
        if repo and path and path.startswith(f"{repo}/"):  # folder inputs: path is relative to the input
            path = path[len(repo) + 1:]
        fields = (("<reponame>", "reponame", repo),
                  ("<filename>", "filename", path),
                  ("<gh_stars>", "gh_stars", star_bucket(int(metadata.get("stars") or 0))))
        return [[token, str(value)] for token, field, value in fields
                if value is not None and value != "" and _uniform(self.seed, doc_id, field) < self.probability]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            prefix = self.prefix_of(doc.id, doc.metadata)
            doc.metadata["prefix"] = prefix
            self.stat_update("documents")
            for token, _ in prefix:
                self.stat_update(f"prefixed/{token.strip('<>')}")
            yield doc
