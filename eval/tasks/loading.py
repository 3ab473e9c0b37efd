"""Reading benchmark records through `datasets`, from the path a user gives or from the hub.

bigcode-evaluation-harness calls `load_dataset(DATASET_PATH, DATASET_NAME)`, which resolves a
local directory of that name before the hub. We take `--load_data_path` first and accept what
people actually have on disk:

- a file: JSON / JSON lines (`.json`, `.jsonl`, optionally `.gz`) or Parquet;
- a directory written by `save_to_disk` (a Dataset or a DatasetDict: `split` is taken);
- a directory holding one file or sub-directory per config (`<dir>/HumanEval-SingleLineInfilling.jsonl.gz`
  as in openai/human-eval-infilling's `data/`, `<dir>/humaneval-js/` as in a snapshot of
  nuprl/MultiPL-E), so one path serves `--tasks multiple-*`;
- any other directory `datasets.load_dataset` understands (a hub snapshot with `data/*.parquet`).

Without a path we try the hub. When its endpoint does not even accept a TCP connection (no
network), `offline_unless_reachable` first switches huggingface_hub and datasets to offline mode
for the process: the local cache still serves, and a miss fails at once, where their retries
took ~25 s and printed a warning per try. Every failure is one `EvalError` line saying how to
provide the data.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from starforge.errors import EvalError

HUB_PROBE_SECONDS = 3.0


@lru_cache(maxsize=1)
def _hub_reachable() -> bool:
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)),
                                 timeout=HUB_PROBE_SECONDS).close()
    except OSError:
        return False
    return True


def offline_unless_reachable() -> None:
    """Offline mode (`HF_HUB_OFFLINE`, `HF_DATASETS_OFFLINE`) for this process when the hub's
    endpoint refuses or drops a connection; nothing changes behind a proxy or when already offline."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return
    if _hub_reachable():
        return
    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    for module, names in (("huggingface_hub.constants", ("HF_HUB_OFFLINE",)),
                          ("datasets.config", ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))):
        if module in sys.modules:  # already imported: their flags were read from the environment then
            for name in names:
                setattr(sys.modules[module], name, True)


_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def _builder(path: Path) -> str | None:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    return _FILE_BUILDERS.get(suffixes[-1]) if suffixes else None


def _load_file(path: Path) -> list[dict[str, Any]]:
    from datasets import load_dataset

    builder = _builder(path)
    if builder is None:
        raise ValueError(f"unknown file type {''.join(path.suffixes) or '(none)'}; expected .jsonl, .json "
                         "or .parquet")
    if builder == "json" and path.read_bytes()[:1] == b"[":  # a JSON list: datasets wants a field name
        return list(json.loads(path.read_text(encoding="utf-8")))
    return list(load_dataset(builder, data_files=str(path), split="train"))


def _config_entry(root: Path, config: str) -> Path | None:
    for candidate in [root / config, *(root / f"{config}{ext}" for ext in
                                       (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet"))]:
        if candidate.exists():
            return candidate
    return None


def _load_dir(path: Path, split: str) -> list[dict[str, Any]]:
    from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        data = load_from_disk(str(path))
        if isinstance(data, DatasetDict):
            if split not in data:
                raise ValueError(f"no '{split}' split (has {', '.join(data)})")
            data = data[split]
        assert isinstance(data, Dataset)
        return list(data)
    data = load_dataset(str(path))
    if split not in data:
        if len(data) != 1:
            raise ValueError(f"no '{split}' split (has {', '.join(data)})")
        split = next(iter(data))
    return list(data[split])


def load_records(data_path: str | None, *, task: str, how: str, required: set[str], split: str = "test",
                 configs: tuple[str, ...] = (), hub: tuple[str, str | None] | None = None,
                 revision: str | None = None) -> list[dict[str, Any]]:
    """Records of one benchmark config, each checked for the `required` fields.

    `configs` name the file or sub-directory to pick inside a directory; `hub` is the
    `(path, name)` given to `load_dataset` when no local path is given.
    """
    where = data_path
    try:
        if data_path:
            path = Path(data_path)
            entry = next((e for c in configs if path.is_dir() and (e := _config_entry(path, c))), None)
            if entry is not None:
                path = entry
                where = str(entry)
            if path.is_file():
                records = _load_file(path)
            elif path.is_dir():
                records = _load_dir(path, split)
            else:
                raise EvalError(f"{task}: --load_data_path {data_path}: no such file or directory; {how}")
        elif hub is not None:
            offline_unless_reachable()
            from datasets import load_dataset

            where = f"the hub ({hub[0]}{'/' + hub[1] if hub[1] else ''})"
            try:
                records = list(load_dataset(hub[0], hub[1], split=split, revision=revision))
            except Exception as exc:  # offline, no cache, hub errors: all mean "no data here"
                raise EvalError(f"{task}: cannot load {hub[0]} from the hub ({type(exc).__name__}); {how}") from None
        else:
            raise EvalError(f"{task}: no data; {how}")
    except EvalError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EvalError(f"{task}: {where}: cannot read records ({first}); {how}") from None
    except Exception as exc:  # datasets' own errors (DatasetGenerationError, ...)
        raise EvalError(f"{task}: {where}: cannot read records ({type(exc).__name__}); {how}") from None
    if not records:
        raise EvalError(f"{task}: {where}: no records; {how}")
    for index, rec in enumerate(records):
        missing = required - set(rec)
        if missing:
            raise EvalError(f"{task}: {where}: record {index} lacks {', '.join(sorted(missing))}; {how}")
    return records
