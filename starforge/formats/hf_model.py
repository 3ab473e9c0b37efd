"""A Hugging Face model directory's weights, checked before transformers loads them (docs/formats.md,
"Hugging Face model directory"): `model.safetensors`, or the shards that
`model.safetensors.index.json` lists (what `save_pretrained` writes).

`transformers.from_pretrained` on a truncated file raises safetensors' own `SafetensorError`
("incomplete metadata, file not fully covered") with a traceback and without the file's name;
opening each file with `safe_open` first (it reads only the header and checks it against the
file size, no tensor data) turns that into one line naming the file. Writers: `starforge
pretrain export`, `finetune sft`/`rl`; readers: `finetune sft`/`rl` (their `--model`) and `eval --model`.
"""

from __future__ import annotations

import json
from pathlib import Path

from starforge.errors import FormatError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


def weight_files(model_dir: str | Path) -> list[Path]:
    """The safetensors files of `model_dir` ([] when it holds none: PyTorch `.bin` weights are
    left to transformers)."""
    root = Path(model_dir)
    index = root / INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FormatError(f"{index}: not a safetensors index ({exc}); export or download the model again") from None
        return [root / name for name in names]
    return [root / SINGLE] if (root / SINGLE).is_file() else []


def check_weights(model_dir: str | Path) -> list[Path]:
    """Every safetensors file of `model_dir` opened once; a missing, truncated or corrupt one is a
    `FormatError` naming it. Returns the files."""
    from safetensors import safe_open

    files = weight_files(model_dir)
    for path in files:
        if not path.is_file():
            raise FormatError(f"{path}: missing (listed in {INDEX}); export or download the model again")
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except Exception as exc:  # safetensors raises its own SafetensorError (and OSError)
            why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise FormatError(f"{path}: not a readable safetensors file ({why}); it is truncated or corrupt: "
                              "export or download the model again") from None
    return files
