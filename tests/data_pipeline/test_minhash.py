"""MinHash near-dedup: shingles, signatures, clusters and the kept document, on real files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from datatrove.data import Document
from datatrove.io import get_datafolder

from data_pipeline.dedup.minhash import (
    NEAR_DUPLICATES_FILE,
    MinHashSignature,
    band_hashes,
    jaccard,
    minhash_signatures,
    shingle_hashes,
    shingle_sets,
)
from data_pipeline.dedup.signature_store import RankStore
from data_pipeline.dedup.single_task import NearDuplicateFinder, find_near_duplicates
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
    (store,) = RankStore.open_all(get_datafolder(str(tmp_path)))
    return store.band_matrix(), (tmp_path / "minhash" / "00000" / "keys.jsonl").read_bytes()


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


def _sets(texts: dict[str, str]) -> dict[str, np.ndarray]:
    return shingle_sets((Document(text=t, id=i) for i, t in texts.items()), set(texts))


def test_exact_jaccard_of_shingle_sets():
    sets = _sets({"s": SCANNER, "e": EDITED, "d": DECODER})
    a, b = five_grams(SCANNER), five_grams(EDITED)
    assert abs(jaccard(sets["s"], sets["e"]) - len(a & b) / len(a | b)) < 1e-9
    assert jaccard(sets["s"], sets["s"]) == 1.0 and jaccard(sets["s"], sets["d"]) < 0.1


def test_verification_unlinks_band_collisions_below_the_threshold():
    """Rows forced to share every band: LSH alone clusters them; the exact check keeps the
    unrelated file and still drops the near copy."""
    texts = {"a": SCANNER, "b": EDITED, "c": DECODER}
    sigs, _ = minhash_signatures([SCANNER, SCANNER, SCANNER])  # all three collide in every band
    keys = [(i, 0, "") for i in texts]
    bands = [band_hashes(sigs)]
    assert find_near_duplicates(keys, bands) == [("b", "a"), ("c", "a")]
    assert find_near_duplicates(keys, bands, shingles=_sets(texts), threshold=0.7) == [("b", "a")]
    assert find_near_duplicates(keys, bands, shingles=_sets(texts), threshold=0.999) == []


def test_verified_clusters_do_not_depend_on_row_order():
    """A chain a~b~c (each link above the threshold, a and c below it) is one cluster whatever the order."""
    lines = SCANNER.splitlines(keepends=True)
    third = len(lines) // 5
    a = "".join(lines)
    b = "".join(lines[third:]) + DECODER[: len(DECODER) // 6]
    c = "".join(lines[2 * third:]) + DECODER[: len(DECODER) // 3]
    texts = {"a": a, "b": b, "c": c}
    sets = _sets(texts)
    ab, bc, ac = jaccard(sets["a"], sets["b"]), jaccard(sets["b"], sets["c"]), jaccard(sets["a"], sets["c"])
    threshold = (min(ab, bc) + ac) / 2
    assert min(ab, bc) > threshold > ac
    sigs, _ = minhash_signatures([a, a, a])
    bands = band_hashes(sigs)
    results = set()
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]):
        keys = [(list(texts)[i], 0, "") for i in order]
        results.add(tuple(find_near_duplicates(keys, [bands[order]], shingles=sets, threshold=threshold)))
    assert results == {(("b", "a"), ("c", "a"))}


def test_finder_reads_texts_back_for_the_check(tmp_path: Path):
    docs = [Document(text=t, id=i, metadata={"lang": "Python"})
            for i, t in [("a", SCANNER), ("b", EDITED), ("c", DECODER), ("d", "tiny")]]
    list(MinHashSignature(str(tmp_path / "dedup")).run(iter(docs)))
    finder = NearDuplicateFinder(str(tmp_path / "dedup"), threshold=0.7)
    list(finder.run(None))
    assert (tmp_path / "dedup" / NEAR_DUPLICATES_FILE).read_text().strip() == '{"id":"b","duplicate_of":"a"}'
    assert finder.stats["verified_documents"].total == 2  # only the colliding pair was read back
