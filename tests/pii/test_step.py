"""The datatrove block: redacted text, counts in metadata, stats."""

from __future__ import annotations

from datatrove.data import Document

from pii import PiiConfig
from pii.step import PiiRedactionStep
from tests.pii.conftest import plant, stdlib_text


def test_step_redacts_documents_and_counts_per_class():
    text, _ = plant(stdlib_text("json/decoder.py"), 40, 'DB_PASSWORD = "{}"', "v9#Lq2!mZp")
    text, _ = plant(text, 10, "# by {}", "ana.lima@posteo.de")
    clean = stdlib_text("string.py")
    docs = [Document(text=text, id="a", metadata={"path": "json/decoder.py"}), Document(text=clean, id="b")]
    step = PiiRedactionStep()
    out = list(step.run(iter(docs)))
    assert "v9#Lq2!mZp" not in out[0].text and "<PASSWORD>" in out[0].text and "# by <EMAIL>" in out[0].text
    assert out[0].metadata["pii"] == {"email": 1, "password": 1}
    assert [r["class"] for r in out[0].metadata["pii_redactions"]] == ["email", "password"]
    assert out[1].text == clean and out[1].metadata["pii"] == {}
    stats = step.stats.to_dict()["stats"]
    assert stats["documents"] == 2 and stats["documents_redacted"] == 1
    assert stats["redacted_email"] == 1 and stats["redacted_password"] == 1


def test_step_takes_a_config():
    step = PiiRedactionStep(PiiConfig(classes=["password"]), keep_records=False)
    doc = Document(text='A = "ana.lima@posteo.de"\nPASSWORD = "v9#Lq2!mZp"\n', id="c")
    (out,) = step.run(iter([doc]))
    assert out.text == 'A = "ana.lima@posteo.de"\nPASSWORD = "<PASSWORD>"\n'
    assert "pii_redactions" not in out.metadata
