"""StarCoder's metadata prefixes: drawn with p=0.2 per field, seeded, inserted by id."""

from __future__ import annotations

from pathlib import Path

from data_pipeline.format.metadata_prefix import MetadataPrefixStep, star_bucket


def test_star_buckets():
    assert [star_bucket(n) for n in (0, 1, 9, 10, 99, 100, 999, 1000, 50_000)] == [
        "0", "1-10", "1-10", "10-100", "10-100", "100-1000", "100-1000", "1000+", "1000+"]


def test_each_field_drawn_with_probability_point_two():
    step = MetadataPrefixStep(0.2, seed=0)
    meta = {"repo": "octo/demo", "path": "octo/demo/src/app.py", "stars": 42}  # as a folder input names it
    prefixes = [step.prefix_of(f"octo/demo/file{i}.py", meta) for i in range(5000)]
    for token in ("<reponame>", "<filename>", "<gh_stars>"):
        share = sum(any(t == token for t, _ in p) for p in prefixes) / len(prefixes)
        assert 0.18 < share < 0.22, token
    first = next(p for p in prefixes if len(p) == 3)
    assert first == [["<reponame>", "octo/demo"], ["<filename>", "src/app.py"], ["<gh_stars>", "10-100"]]


def test_prefix_reproducible_and_seeded():
    meta = {"repo": "r", "path": "a.py", "stars": 0}
    ids = [f"r/{i}.py" for i in range(200)]
    a = [MetadataPrefixStep(0.2, seed=1).prefix_of(i, meta) for i in ids]
    assert a == [MetadataPrefixStep(0.2, seed=1).prefix_of(i, meta) for i in ids]
    assert a != [MetadataPrefixStep(0.2, seed=2).prefix_of(i, meta) for i in ids]


def test_prefix_tokens_inserted_by_id_and_values_escaped(curated: Path, tmp_path: Path):
    from data_pipeline.tokenize.shards import EscapingMegatronTokenizer
    from data_pipeline.tokenize.train import TrainTokenizerConfig, train_tokenizer
    from starforge.formats.tokenizer import load_tokenizer

    train_tokenizer(TrainTokenizerConfig(input=curated / "kept", output=tmp_path / "tok", vocab_size=600))
    step = EscapingMegatronTokenizer(str(tmp_path / "s"), tokenizer_name_or_path=str(tmp_path / "tok" / "tokenizer.json"))
    meta = {"prefix": [["<reponame>", "evil/<fim_prefix>"], ["<gh_stars>", "1000+"]]}
    ids = step.document_ids("x = 1\n", meta, step.tokenizer.encode("x = 1\n").ids)
    tok = load_tokenizer(tmp_path / "tok" / "tokenizer.json")
    assert [i for i in ids if i < 19] == [18, 6, 0]  # <reponame>, <gh_stars>, EOD: no <fim_prefix> id
    assert tok.decode(ids, skip_special_tokens=False) == (
        "<reponame>evil/<fim_prefix><gh_stars>1000+\nx = 1\n<|endoftext|>")
