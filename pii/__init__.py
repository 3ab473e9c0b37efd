"""Code-aware PII detection and redaction on presidio-analyzer.

    from pii import scan_text, redact_text
    findings = scan_text(source, path="settings.py")       # [Finding(cls, start, end, ...)]
    redacted, redactions = redact_text(source, path="settings.py")

`starforge pii scan|redact` is the CLI (pii/cli.py over pii/scan.py and pii/redact.py);
`pii.step.PiiRedactionStep` the datatrove block of the data pipeline; `python -m bench.pii`
(bench/pii/) measures accuracy and speed against bigcode's.
"""

from pii.analyzer import Finding, PiiAnalyzer, scan_text
from pii.config import PiiConfig
from pii.redact import Redaction, redact_text

__all__ = ["Finding", "PiiAnalyzer", "PiiConfig", "Redaction", "redact_text", "scan_text"]
