"""The presidio engine: no spaCy model, our recognizers only, prefilter, hostile input."""

from __future__ import annotations

import logging
import time
import tracemalloc

import pytest
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from pii import PiiAnalyzer, PiiConfig
from pii.files import read_source
from pii.recognizers import recognizer_classes
from tests.pii.conftest import plant, stdlib_text


def test_engine_has_no_nlp_model_and_only_our_recognizers():
    analyzer = PiiAnalyzer()
    assert isinstance(analyzer.engine.nlp_engine, NoOpNlpEngine)
    names = {r.name for r in analyzer.engine.registry.recognizers}
    assert names == {cls.__name__ for cls in recognizer_classes()}
    assert {"EmailRecognizer", "IpRecognizer", "KeyRecognizer", "PasswordRecognizer", "UsernameRecognizer"} <= names


def test_classes_restrict_the_recognizers():
    analyzer = PiiAnalyzer(PiiConfig(classes=["email"]))
    text = 'A = "ana.lima@posteo.de"\nK = "AKIA4FJQ7XQ2ZJ5KLM3P"\n'
    assert [f.cls for f in analyzer.analyze(text)] == ["email"]


def test_prefilter_finds_what_a_full_scan_finds():
    text = stdlib_text("http/client.py")
    for line, (template, value) in zip((100, 400, 800, 1200), [
            ('HOST = "{}"', "93.184.216.34"), ("# mail {}", "ana.lima@posteo.de"),
            ('SECRET_KEY = "{}"', "q8Zr4Tn1Vx6Lp3Ws9Kd2Hf7Jb5Mc0Ga"), ('PASSWORD = "{}"', "v9#Lq2!mZp")]):
        text, _ = plant(text, line, template, value)
    fast = PiiAnalyzer(PiiConfig()).analyze(text)
    full = PiiAnalyzer(PiiConfig(prefilter=False)).analyze(text)
    assert fast == full and len(fast) == 4


def test_file_without_triggers_never_reaches_presidio():
    analyzer = PiiAnalyzer()
    assert analyzer.analyze(stdlib_text("string.py")) == []
    assert analyzer.calls == 0


def test_absent_ner_model_skipped_with_one_log_line(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    analyzer = PiiAnalyzer(PiiConfig(classes=["email", "name"], ner_model=tmp_path / "starpii"))
    lines = [r for r in caplog.records if "ner_model" in r.getMessage()]
    assert len(lines) == 1 and "not detected" in lines[0].getMessage()
    assert analyzer.use_prefilter


def test_local_spacy_ner_model_plugs_in(tmp_path):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")  # no download: a rule-based PERSON recognizer saved as a pipeline
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Ada Lovelace"}])
    nlp.to_disk(tmp_path / "ner")
    analyzer = PiiAnalyzer(PiiConfig(classes=["name"], ner_model=tmp_path / "ner"))
    text = "# Written by Ada Lovelace in 1843\nx = 1\n"
    assert [(f.cls, text[f.start:f.end]) for f in analyzer.analyze(text)] == [("name", "Ada Lovelace")]
    assert not analyzer.use_prefilter


def test_offsets_survive_non_ascii_text_and_crlf_line_ends():
    text = "# \u0130stanbul ofisi, caf\u00e9 \U0001f600\r\npassword: Zr8w2Ltq!\r\nhost: 93.184.216.34\r\n"
    found = [(f.cls, text[f.start:f.end]) for f in PiiAnalyzer().analyze(text, "settings.yaml")]
    assert found == [("password", "Zr8w2Ltq!"), ("ip_address", "93.184.216.34")]


# -- hostile input -----------------------------------------------------------------------------

def test_binary_files_reported_non_utf8_text_scanned(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 10)
    (tmp_path / "b.txt").write_bytes("caf\u00e9 ana.lima@posteo.de".encode("latin-1"))
    assert read_source(tmp_path / "a.bin", None) == (None, "binary")
    text, note = read_source(tmp_path / "b.txt", None)
    assert note == "non_utf8" and [f.cls for f in PiiAnalyzer().analyze(text)] == ["email"]
    assert read_source(tmp_path / "b.txt", 4) == (None, "too_large")


def test_long_single_line_file_bounded_in_time_and_memory():
    # 4 MB of minified-JS-like text on one line: a trigger per kilobyte, an address per 8 KB.
    chunk = ("var a=function(t){return t.map(function(e){return e*2})},b=[1,2,3];" * 15 + "a.token=1;") * 8
    text = (chunk + 'x="93.184.216.34";') * (4_000_000 // (len(chunk) + 18)) + 'mail="ana.lima@posteo.de"'
    tracemalloc.start()
    t0 = time.process_time()
    findings = PiiAnalyzer().analyze(text)
    seconds = time.process_time() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert {f.cls for f in findings} == {"ip_address", "email"}
    assert seconds < 60 and peak < 20 * len(text)


def test_file_of_nothing_but_candidates_bounded():
    lines = [f"u{i}.k{i % 97}@mail{i % 13}.de 44.{i % 200}.{i % 250}.{1 + i % 250} token_{i}=Zx81kQ0pLm{i:06d}VbT5"
             for i in range(20_000)]
    text = "\n".join(lines)  # ~1.3 MB, every line a candidate for three recognizers
    t0 = time.process_time()
    findings = PiiAnalyzer().analyze(text)
    assert time.process_time() - t0 < 60
    assert sum(f.cls == "email" for f in findings) == 20_000
    assert sum(f.cls == "ip_address" for f in findings) == 20_000


@pytest.mark.slow
def test_fifty_megabyte_single_line_file(tmp_path):
    path = tmp_path / "big.min.js"
    # A minified bundle: code with a few triggers per kilobyte, an address every ~6 KB.
    unit = "function f(a){return a.map(function(b){return b*2})};var c=[1,2,3];" * 90 + "var ip='93.184.216.34';"
    path.write_text(unit * (50_000_000 // len(unit)))
    text, reason = read_source(path, PiiConfig().max_file_bytes)
    t0 = time.process_time()
    findings = PiiAnalyzer().analyze(text, path)
    assert reason is None and time.process_time() - t0 < 120
    assert findings and all(f.cls == "ip_address" for f in findings)


# -- a Hugging Face token classifier (StarPII's shape, random weights) ------------------------

# bigcode/starpii's labels (its config.json id2label); AMBIGUOUS has no class of ours.
STARPII_LABELS = ["O", "B-AMBIGUOUS", "I-AMBIGUOUS", "B-EMAIL", "I-EMAIL", "B-IP_ADDRESS", "I-IP_ADDRESS", "B-KEY",
                  "I-KEY", "B-NAME", "I-NAME", "B-PASSWORD", "I-PASSWORD", "B-USERNAME", "I-USERNAME"]
STARPII_CLASSES = {"EMAIL": "email", "IP_ADDRESS": "ip_address", "KEY": "key", "NAME": "name", "PASSWORD": "password",
                   "USERNAME": "username"}


def tiny_token_classifier(path, text: str) -> None:
    """A two-layer BERT token classifier with StarPII's labels and random weights, its WordPiece
    vocabulary the words of `text`, saved to `path`: built here, nothing downloaded."""
    import re

    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    path.mkdir()
    words = sorted(set(re.findall(r"[a-z0-9]+", text.lower())))
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True, model_max_length=64)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64,
                        id2label=dict(enumerate(STARPII_LABELS)), label2id={label: i for i, label in enumerate(STARPII_LABELS)})
    model = BertForTokenClassification(config)
    with torch.no_grad():  # rows of equal norm: every label about as likely, so each one shows up
        model.classifier.weight.copy_(torch.nn.functional.normalize(torch.randn_like(model.classifier.weight)) * 8)
        model.classifier.bias.zero_()
    model.save_pretrained(path)


def test_local_hf_token_classifier_plugs_in_and_its_labels_map_to_our_classes(tmp_path, monkeypatch):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = stdlib_text("json/decoder.py")[:4000]  # real code, ~1000 tokens: many 64-token windows
    model_dir = tmp_path / "starpii-tiny"
    tiny_token_classifier(model_dir, text)

    analyzer = PiiAnalyzer(PiiConfig(classes=["email", "ip_address", "key", "password", "username", "name"],
                                     ner_model=model_dir))
    ner = [r for r in analyzer.engine.registry.recognizers if r.name == "NerRecognizer"]
    assert len(ner) == 1 and not analyzer.use_prefilter
    findings = [f for f in analyzer.analyze(text) if f.recognizer == "NerRecognizer"]

    # What the model itself says, through transformers' own pipeline over the same windows.
    pipe = transformers.pipeline("token-classification", model=str(model_dir), aggregation_strategy="simple",
                                 stride=ner[0].stride)
    raw = pipe(text)
    expected = {(STARPII_CLASSES[e["entity_group"]], e["start"], e["end"]) for e in raw
                if e["entity_group"] in STARPII_CLASSES and e["end"] > e["start"]}
    assert {(f.cls, f.start, f.end) for f in findings} == expected
    assert len({f.cls for f in findings}) >= 3  # random weights: many labels, each mapped to its class
    assert any(e["entity_group"] == "AMBIGUOUS" for e in raw)  # emitted, and dropped: no class of ours
    assert max(f.end for f in findings) > len(text) * 0.9  # read to the end, not cut at 64 tokens


def test_hf_model_restricted_to_configured_classes(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = stdlib_text("json/decoder.py")[:1500]
    tiny_token_classifier(tmp_path / "m", text)
    analyzer = PiiAnalyzer(PiiConfig(classes=["name"], ner_model=tmp_path / "m"))
    assert {f.cls for f in analyzer.analyze(text)} == {"name"}


def test_unloadable_hf_model_skipped_with_one_log_line(tmp_path, caplog):
    pytest.importorskip("transformers")
    caplog.set_level(logging.INFO)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"model_type": "bert"}')  # no weights, no tokenizer
    analyzer = PiiAnalyzer(PiiConfig(classes=["email", "name"], ner_model=tmp_path / "broken"))
    lines = [r for r in caplog.records if "ner_model" in r.getMessage()]
    assert len(lines) == 1 and "could not be loaded" in lines[0].getMessage()
    assert analyzer.use_prefilter
    assert [f.cls for f in analyzer.analyze('A = "ana.lima@posteo.de"\n')] == ["email"]
