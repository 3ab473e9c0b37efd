"""`starforge pii scan PATH...` and `starforge pii redact IN OUT`.

scan   prints one row per finding (path:line:col, class, recognizer; never the value) or, with
       --json, one JSON object; then a summary (files, skipped by reason, findings per class,
       MB/s).
redact writes IN (a file or a folder) to OUT with every finding replaced; a folder's layout
       is mirrored, binary files copied unchanged (text that is not UTF-8 is scanned and
       written back byte for byte), files over `max_file_bytes` left out and reported. Beside
       OUT, in `<OUT>.pii/` (or --audit DIR): redactions.jsonl (class, span, line, file per
       redaction, no values), summary.json and the resolved config.yaml.

Both take every `PiiConfig` key as a flag, `--config` and `--set` (`starforge.commands`).
"""

from __future__ import annotations

from pathlib import Path

from starforge.commands import Command, extend, run_commands


def _scan_config() -> type:
    from pii.config import PiiConfig

    return extend(PiiConfig, "PiiScanCommand", [
        ("paths", list[Path] | None, None, "files or folders to scan"),
        ("json", bool, False, "one JSON object instead of a table")])


def _redact_config() -> type:
    from pii.config import PiiConfig

    return extend(PiiConfig, "PiiRedactCommand", [
        ("input", Path | None, None, "file or folder to redact"),
        ("output", Path | None, None, "redacted copy to write (outside IN)"),
        ("audit", Path | None, None, "audit folder (default: <OUT>.pii)")])


def _pii(cfg):
    from pii.config import PiiConfig

    return PiiConfig(**{name: getattr(cfg, name) for name in PiiConfig.__dataclass_fields__})


def _scan(cfg) -> int:
    from pii.scan import scan_paths

    return scan_paths(list(cfg.paths), _pii(cfg), as_json=cfg.json)


def _redact(cfg) -> int:
    from pii.redact import redact_path

    # redact_path applies the output rule itself (OUT outside IN, with its own message).
    return redact_path(cfg.input, cfg.output, _pii(cfg), audit=cfg.audit)


COMMANDS = [
    Command("scan", _scan_config, _scan, "report PII findings in files or folders", positional=("paths",),
            required=("paths",)),
    Command("redact", _redact_config, _redact, "write a redacted copy of a file or folder",
            positional=("input", "output"), required=("input", "output")),
]


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge pii", COMMANDS, argv, description="Find and redact PII and secrets in code.")
