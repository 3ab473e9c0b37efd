"""Recognizers register themselves: a file in pii/recognizers/ is all a new one takes."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path

import pytest

import pii.recognizers
from pii import PiiAnalyzer, PiiConfig
from pii.recognizers import _REGISTRY, recognizer_classes
from tests.pii.conftest import plant, stdlib_text

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pii.md"
PII_FIELDS = {f.name for f in dataclasses.fields(PiiConfig)}


@pytest.mark.parametrize("cls", recognizer_classes(), ids=lambda c: c.__name__)
def test_each_recognizer_declares_class_triggers_and_real_config_fields(cls):
    assert cls.CLASS in PiiConfig().classes and cls.ENTITY
    assert any(dataclasses.astuple(cls.TRIGGERS))
    assert set(cls.CONFIG) <= PII_FIELDS
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert params == set(cls.CONFIG)  # built from the config alone
    assert isinstance(cls.from_config(PiiConfig()), cls)


def test_only_the_configured_classes_recognizers_and_triggers_are_used():
    analyzer = PiiAnalyzer(PiiConfig(classes=["email"]))
    assert [r.name for r in analyzer.engine.registry.recognizers] == ["EmailRecognizer"]
    assert analyzer.prefilter.words == [] and analyzer.prefilter.prefixes == []
    assert analyzer.analyze(stdlib_text("secrets.py")) == [] and analyzer.calls == 0  # "token" everywhere


NEW_RECOGNIZER = '''
from presidio_analyzer import Pattern

from pii.recognizers import register_recognizer
from pii.recognizers.base import CodePatternRecognizer, Triggers


@register_recognizer
class AcmeDeployKeyRecognizer(CodePatternRecognizer):
    CLASS = "key"
    TRIGGERS = Triggers(prefixes=("acme_dk_",))

    def __init__(self):
        super().__init__([Pattern("acme_deploy_key", r"acme_dk_[0-9a-f]{24}", 0.9)])
'''


def test_a_new_file_in_the_folder_is_all_a_recognizer_takes(tmp_path, monkeypatch):
    (tmp_path / "acme_deploy_key_recognizer.py").write_text(NEW_RECOGNIZER)
    monkeypatch.setattr(pii.recognizers, "__path__", [*pii.recognizers.__path__, str(tmp_path)])
    try:
        text, span = plant(stdlib_text("json/decoder.py"), 40, 'DEPLOY = "{}"', "acme_dk_" + "5f3a9c" * 4)
        found = [(f.cls, f.start, f.end, f.recognizer) for f in PiiAnalyzer().analyze(text)]
        assert ("key", *span, "acme_deploy_key") in found
    finally:
        _REGISTRY.pop("AcmeDeployKeyRecognizer", None)
        sys.modules.pop("pii.recognizers.acme_deploy_key_recognizer", None)


def test_docs_show_a_shipped_recognizer_file_verbatim():
    source = Path(pii.recognizers.__file__).with_name("huggingface_token_recognizer.py").read_text()
    assert source in DOCS.read_text()
