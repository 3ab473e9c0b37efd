"""Hugging Face tokens in real code: found whole, look-alikes and fixtures not."""

from __future__ import annotations

import pytest

from pii import scan_text
from tests.pii.conftest import plant

TOKEN = "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"
ORG_TOKEN = "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"


@pytest.mark.parametrize("template,value", [
    ('HF_TOKEN = "{}"', TOKEN),
    ("    login(token='{}')", TOKEN),
    ("huggingface-cli login --token {}", TOKEN),
    ('api = HfApi(token="{}")', ORG_TOKEN),
])
def test_token_planted_in_real_code_found_whole(decoder_py, template, value):
    text, span = plant(decoder_py, 40, template, value)
    assert ("key", *span, "huggingface_token") in [(f.cls, f.start, f.end, f.recognizer) for f in scan_text(text)]


@pytest.mark.parametrize("line", [
    'path = hf_hub_download(repo_id="bigcode/starpii", filename="config.json")',
    'token = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"', 'token = "hf_dummyTokenForTestsOnlyAbcdefghijkl"',
    'x = "hf_' + "a" * 34 + '"', 'name = "hf_' + "Ab" * 17 + '"',
    'ref = "hf_ujzPdeIgxLdGncfBAepfJBdKhoOOLdKLzdQ"',  # 35 letters: not the shape
])
def test_look_alikes_ignored(decoder_py, line):
    text, _ = plant(decoder_py, 40, "{}", line)
    assert [f for f in scan_text(text) if f.recognizer == "huggingface_token"] == []
