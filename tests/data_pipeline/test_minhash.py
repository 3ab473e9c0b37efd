"""MinHash near-dedup: shingles, signatures, clusters and the kept document, on real files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from datatrove.data import Document

from data_pipeline.dedup.minhash import (
    MinHashSignature,
    band_hashes,
    find_near_duplicates,
    minhash_signatures,
    shingle_hashes,
)
from tests.data_pipeline.conftest import STDLIB

SCANNER = (STDLIB / "json" / "scanner.py").read_text()
DECODER = (STDLIB / "json" / "decoder.py").read_text()
EDITED = SCANNER.replace("NUMBER_RE", "NUMBER_PATTERN", 1) + "\n# vendored\n"


def five_grams(text: str) -> set[tuple[str, ...]]:
    tokens = re.findall(r"[A-Za-z_0-9]+", text)  # bigcode: split on [^A-Za-z_0-9]
    return {tuple(tokens[i:i + 5]) for i in range(len(tokens) - 4)}


def test_shingles_are_the_token_five_grams():
    texts = [SCANNER, "x", DECODER, "def f(a): return a  # é ünïcode 名前 = 1"]
    flat, offsets = shingle_hashes(texts)
    for i, text in enumerate(texts):
        row = flat[offsets[i]:offsets[i + 1]]
        tokens = re.findall(r"[A-Za-z_0-9]+", text)
        assert len(row) == max(len(tokens) - 4, 0)
        assert len(set(row.tolist())) == len(five_grams(text))


def test_shingle_hash_does_not_depend_on_position_or_batch():
    alone, _ = shingle_hashes([SCANNER])
    flat, offsets = shingle_hashes([DECODER, SCANNER])
    assert np.array_equal(alone, flat[offsets[1]:offsets[2]])


def test_signature_estimates_jaccard():
    a, b = five_grams(SCANNER), five_grams(EDITED)
    true = len(a & b) / len(a | b)
    sigs, ok = minhash_signatures([SCANNER, EDITED, DECODER])
    assert ok.all()
    estimate = float(np.mean(sigs[0] == sigs[1]))
    assert abs(estimate - true) < 0.08 and true > 0.7
    assert float(np.mean(sigs[0] == sigs[2])) < 0.2


def test_near_copy_clusters_and_unrelated_does_not():
    sigs, _ = minhash_signatures([SCANNER, EDITED, DECODER])
    keys = [("b/scanner.py", 0, ""), ("a/scanner.py", 0, ""), ("c/decoder.py", 0, "")]
    assert find_near_duplicates(keys, [band_hashes(sigs)]) == [("b/scanner.py", "a/scanner.py")]


def test_keeper_most_stars_then_newest_then_smallest_id():
    sigs, _ = minhash_signatures([SCANNER, EDITED, SCANNER + "\n"])
    bands = [band_hashes(sigs)]
    by_stars = [("a", 3, ""), ("b", 40, "2020-01-01T00:00:00Z"), ("c", 5, "2024-01-01T00:00:00Z")]
    assert {kept for _, kept in find_near_duplicates(by_stars, bands)} == {"b"}
    by_date = [("a", 7, "2019-05-01T00:00:00Z"), ("b", 7, ""), ("c", 7, "2023-02-01T00:00:00Z")]
    assert {kept for _, kept in find_near_duplicates(by_date, bands)} == {"c"}
    tie = [("c", 0, ""), ("a", 0, ""), ("b", 0, "")]
    assert find_near_duplicates(tie, bands) == [("b", "a"), ("c", "a")]


def test_exact_duplicates_left_to_exact_dedup():
    sigs, _ = minhash_signatures([SCANNER, EDITED])
    keys = [("a", 0, ""), ("b", 0, "")]
    assert find_near_duplicates(keys, [band_hashes(sigs)], skip={"a"}) == []


def _signature_files(tmp_path: Path, docs: list[Document], batch_bytes: int) -> tuple[np.ndarray, bytes]:
    step = MinHashSignature(str(tmp_path), batch_bytes=batch_bytes)
    passed = list(step.run(iter(docs)))
    assert [d.id for d in passed] == [d.id for d in docs]
    return np.load(tmp_path / "minhash" / "00000.npy"), (tmp_path / "minhash" / "00000.jsonl").read_bytes()


def test_signature_step_independent_of_batching(tmp_path: Path):
    docs = [Document(text=t, id=str(i), metadata={"lang": "Python"}) for i, t in enumerate([SCANNER, "x", DECODER])]
    one = _signature_files(tmp_path / "one", docs, batch_bytes=10**9)
    many = _signature_files(tmp_path / "many", docs, batch_bytes=1)
    assert np.array_equal(one[0], many[0]) and one[1] == many[1]
    assert one[0].shape == (2, 25)  # "x" has no 5-gram


def test_languages_are_deduplicated_separately(tmp_path: Path):
    docs = [Document(text=SCANNER, id="a", metadata={"lang": "Python"}),
            Document(text=EDITED, id="b", metadata={"lang": "Jupyter Script"})]
    bands, _ = _signature_files(tmp_path, docs, batch_bytes=10**9)
    keys = [("a", 0, ""), ("b", 0, "")]
    assert find_near_duplicates(keys, [bands]) == []
