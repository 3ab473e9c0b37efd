"""`PiiRedactionStep`: the datatrove block `data_pipeline` puts in its chain.

Each document's text is redacted in place; `doc.metadata["pii"]` gets the count per class
(classes with none are left out) and `doc.metadata["pii_redactions"]` the audit records
(class, span, line; never the value). Stats: documents seen and redacted, redactions per
class, bytes scanned. One analyzer per step, built lazily in the worker.
"""

from __future__ import annotations

from collections import Counter

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from pii.analyzer import PiiAnalyzer
from pii.config import PiiConfig
from pii.redact import redact_text


class PiiRedactionStep(PipelineStep):
    name = "🔒 PII redaction"
    type = "✂️ - FORMAT"

    def __init__(self, config: PiiConfig | None = None, keep_records: bool = True):
        super().__init__()
        self.config = config or PiiConfig()
        self.keep_records = keep_records
        self._analyzer: PiiAnalyzer | None = None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self._analyzer is None:
            self._analyzer = PiiAnalyzer(self.config)
        for doc in data:
            self.stat_update("documents")
            with self.track_time():
                path = doc.metadata.get("path") or doc.metadata.get("file_path") or doc.id
                self.stat_update("bytes_scanned", value=len(doc.text.encode("utf-8", "surrogatepass")), unit="doc")
                text, redactions = redact_text(doc.text, path=str(path) if path else None, analyzer=self._analyzer)
                counts = Counter(r.cls for r in redactions)
                doc.metadata["pii"] = dict(counts)
                if self.keep_records:
                    doc.metadata["pii_redactions"] = [
                        {k: v for k, v in r.to_json().items() if k != "path"} for r in redactions]
                if redactions:
                    doc.text = text
                    self.stat_update("documents_redacted")
                    for cls, n in counts.items():
                        self.stat_update(f"redacted_{cls}", value=n)
            yield doc
