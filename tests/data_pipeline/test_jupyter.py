"""Jupyter notebooks to StarCoder's script and structured forms."""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.data import Document

from data_pipeline.format.jupyter import JupyterConfig, JupyterConverter, load_notebook, to_script, to_structured
from tests.data_pipeline.conftest import FILES
from tests.data_pipeline.helpers import kept_records, outcomes, training_text


def notebook_doc(name: str) -> Document:
    return Document(text=(FILES / f"{name}.json").read_text(), id=f"r/{name}",
                    metadata={"lang": "Jupyter Notebook", "path": f"r/{name}", "size": 1})


def test_script_form_comments_markdown():
    cells, lang = load_notebook((FILES / "analysis.ipynb.json").read_text())
    script = to_script(cells, lang)
    assert script.startswith("# %% [markdown]\n# # Word counts\n#\n# Count the words")
    assert "# %%\nfrom collections import Counter\n" in script
    assert "\"the quick the\"" in script and "the 2" not in script  # outputs are not code


def test_structured_form_with_outputs_truncated_and_empty_output():
    cells, _ = load_notebook((FILES / "analysis.ipynb.json").read_text())
    text, segments = to_structured(cells, max_output_chars=1000)
    assert [t for t, _ in segments] == ["<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
                                        "<jupyter_code>", "<jupyter_output>", "<jupyter_code>", "<empty_output>"]
    assert sum(n for _, n in segments) == len(text)
    assert segments[5][1] == 1000  # the 3,002-character repr, cut
    rendered = training_text({"text": text, "metadata": {"segments": segments}})
    assert rendered.startswith("<jupyter_start><jupyter_text># Word counts")
    assert "<jupyter_output>the 2\nquick 1\n<jupyter_code>'x' * 3000<jupyter_output>'xxx" in rendered
    assert rendered.endswith("<jupyter_code>total = sum(counts.values())<empty_output>")


def test_real_notebook_from_wasabi_converted():
    out = list(JupyterConverter().run(iter([notebook_doc("wasabi-test-notebook.ipynb")])))
    assert [d.metadata["lang"] for d in out] == ["Jupyter Script", "Jupyter Structured"]
    assert out[0].text.startswith("# %%\nimport sys\nimport wasabi\n")
    assert out[1].id.endswith("#structured") and out[1].metadata["segments"][-1] == ["<empty_output>", 0]


def test_one_form_only():
    out = list(JupyterConverter(JupyterConfig(formats=["structured"])).run(iter([notebook_doc("analysis.ipynb")])))
    assert len(out) == 1 and out[0].id == "r/analysis.ipynb" and out[0].metadata["lang"] == "Jupyter Structured"


def test_invalid_notebook_dropped_with_reason(tmp_path: Path):
    from starforge.formats.records import read_records, record_files, records_writer

    broken = Document(text='{"cells": [', id="r/broken.ipynb", metadata={"lang": "Jupyter Notebook", "size": 11})
    other = Document(text="x = 1\n", id="r/a.py", metadata={"lang": "Python", "size": 6})
    step = JupyterConverter(exclusion_writer=records_writer(tmp_path / "jupyter"))
    assert [d.id for d in step.run(iter([broken, other]))] == ["r/a.py"]
    [record] = [r for p in record_files(tmp_path / "jupyter") for r in read_records(p)]
    assert record["id"] == "r/broken.ipynb" and record["metadata"]["reason"] == "invalid_notebook"


def test_curated_notebook_in_both_forms(curated: Path):
    kept = kept_records(curated)
    assert kept["alpha/notebooks/analysis.ipynb"]["metadata"]["lang"] == "Jupyter Script"
    structured = kept["alpha/notebooks/analysis.ipynb#structured"]
    assert structured["metadata"]["segments"][0] == ["<jupyter_start>", 0]
    assert len(outcomes(curated)["alpha/notebooks/analysis.ipynb"]) == 1
    stats = json.loads((curated / "stats.json").read_text())
    assert next(s for s in stats["steps"] if s["step"] == "jupyter")["added"] == 1


def test_notebook_without_content_dropped_as_empty():
    blank = json.dumps({"cells": [{"cell_type": "code", "source": ["   \n"], "outputs": []}], "metadata": {}})
    doc = Document(text=blank, id="r/blank.ipynb", metadata={"lang": "Jupyter Notebook", "size": len(blank)})
    step = JupyterConverter()
    assert list(step.run(iter([doc]))) == []
    assert step.stats["dropped_empty_notebook"].total == 1
