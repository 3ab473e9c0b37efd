"""Code-aware PII detection and redaction on presidio-analyzer."""
