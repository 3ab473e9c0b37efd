"""Run folders: the output rule, the stored config, and one summary.json schema.

THE OUTPUT RULE (every command; docs/formats.md, "Run folders"):
- an output never contains, equals or lies inside an input (paths compared after resolving
  symlinks), so no command reads what it is writing or overwrites what it was asked to read;
- a non-empty output folder is reused only if this same command made it: the command writes a
  marker file, `.starforge`, naming itself; any other non-empty folder is refused with a
  one-line error naming `--overwrite`;
- nothing is deleted that the command did not write (with `--overwrite` the command replaces
  its own files by name and leaves every other file where it was).

`starforge.commands` applies the rule to the fields each command declares as inputs and
outputs before it runs; `prepare()` does the same for code that builds a run folder itself and
stores the config, refusing a re-run with a changed config (naming the key), because datatrove
and the trainers resume what they find there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from starforge.config import save_config, to_dict
from starforge.errors import ConfigError, DataError

MARKER = ".starforge"
"""The file a command writes into each output folder it makes; its first line names the command."""


def claim_outputs(command: str, outputs: Mapping[str, Path], inputs: Mapping[str, Path], *,
                  files: Mapping[str, Path] | None = None, overwrite: bool = False,
                  create: bool = True) -> list[Path]:
    """Check the output rule for `command` ("data curate"); `outputs` and `files` map a flag name
    (for the message) to a folder or a file the command writes, `inputs` to what it reads.
    With `create`, make each output folder and write the marker; returns the folders this call
    created (for `release` if the command then fails)."""
    files = files or {}
    # An input that does not exist is the command's own error to report (nothing to protect).
    resolved_in = {flag: _resolve(path) for flag, path in inputs.items() if Path(path).exists()}
    for flag, out in [*outputs.items(), *files.items()]:
        target = _resolve(out)
        for in_flag, src in resolved_in.items():
            if target == src:
                raise ConfigError(f"{flag} {out} is the input given to {in_flag}: the command would overwrite what "
                                  f"it reads; choose another {flag}")
            if src.is_relative_to(target):
                raise ConfigError(f"{flag} {out} contains the input {in_flag} {inputs[in_flag]}: choose an output "
                                  f"outside it")
            if target.is_relative_to(src) and src.is_dir():
                raise ConfigError(f"{flag} {out} lies inside the input {in_flag} {inputs[in_flag]}: it would be "
                                  f"read as input; choose an output outside it")
    for flag, out in files.items():
        if Path(out).is_dir():
            raise ConfigError(f"{flag} {out} is a folder; give the path of a file to write")
    created = []
    for flag, out in outputs.items():
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{flag} {out} is a file, not a folder; give a folder to write (new or empty)")
        made_by = made_by_command(out)
        if out.is_dir() and made_by != command and any(p.name != MARKER for p in out.iterdir()) and not overwrite:
            who = f"`starforge {made_by}`" if made_by else "another command or by hand"
            raise ConfigError(f"{flag} {out} is not empty and was made by {who}, not `starforge {command}`; give a "
                              f"new folder, or pass --overwrite to write into it (only files this command writes are "
                              f"replaced)")
        if create:
            if not out.exists():
                created.append(out)
            out.mkdir(parents=True, exist_ok=True)
            if made_by != command:
                (out / MARKER).write_text(f"{command}\n", encoding="utf-8")
    return created


def made_by_command(folder: Path) -> str | None:
    """The command named by `folder`'s marker, or None."""
    try:
        return (Path(folder) / MARKER).read_text(encoding="utf-8").splitlines()[0].strip() or None
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def release(folder: Path) -> None:
    """Undo `claim_outputs` for a folder it created, if the command wrote nothing else there."""
    folder = Path(folder)
    try:
        if folder.is_dir() and [p.name for p in folder.iterdir()] == [MARKER]:
            (folder / MARKER).unlink()
            folder.rmdir()
    except OSError:
        pass


def prepare(out_dir: str | Path, config: Any, inputs: Iterable[str | Path] = (), overwrite: bool = False, *,
            command: str, neutral: Iterable[str] = (), flag: str = "--output") -> Path:
    """Make `out_dir` the run folder of `command` for `config`: the output rule against `inputs`,
    then `config.yaml` stored, or compared with the one a previous run stored (keys in `neutral`,
    such as worker counts, may change: they change no output)."""
    out = Path(out_dir)
    ins = {f"input {i}" if i else "input": Path(p) for i, p in enumerate(inputs)}
    claim_outputs(command, {flag: out}, ins, overwrite=overwrite)
    previous = out / "config.yaml"
    new = to_dict(config)
    if previous.is_file():
        try:
            old = yaml.safe_load(previous.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            old = None
        changed = config_difference(old, new, set(neutral)) if isinstance(old, dict) else "config.yaml"
        if changed:
            raise DataError(f"{out} holds a run of `starforge {command}` with a different config ({changed} "
                            "changed); pass a new --output, or delete the folder to start over")
    save_config(config, previous)
    return out


def config_difference(old: dict[str, Any], new: dict[str, Any], neutral: set[str], prefix: str = "") -> str | None:
    """The first dotted key whose value differs, as `key: old -> new` (None when equal)."""
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}{key}"
        if key in neutral or name in neutral:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = config_difference(a, b, neutral, f"{name}.")
            if inner:
                return inner
        elif a != b:
            return f"{name}: {a!r} -> {b!r}"
    return None


def write_summary(out_dir: str | Path, stage: str, counts: Mapping[str, Any], outputs: Mapping[str, Any] | None = None,
                  *, command: str | None = None, name: str = "summary.json", **extra: Any) -> dict[str, Any]:
    """Write `out_dir/summary.json` in the one schema every stage uses (docs/formats.md,
    "summary.json"): `stage`, `command`, the stage's counts (its own keys, at the top level as
    before), `outputs` (name -> path) and any extra keys. Written atomically; returns the dict."""
    summary: dict[str, Any] = {"stage": stage, "command": command or stage}
    summary.update(counts)
    summary.update(extra)
    summary["outputs"] = {k: str(v) if isinstance(v, Path) else v for k, v in (outputs or {}).items()}
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return summary


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))
