"""The safetensors files of a Hugging Face model directory, read lazily, with errors that name
the file: `model.safetensors`, or the shards listed in `model.safetensors.index.json` (what
`save_pretrained` writes). A truncated or corrupt file fails when opened (safetensors checks the
header against the file size), before any conversion starts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from starforge.errors import PretrainError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


class SafetensorsWeights(Mapping[str, torch.Tensor]):
    """name -> tensor over every safetensors file of `hf_dir`; a tensor is read when asked for."""

    def __init__(self, hf_dir: Path):
        self.dir = Path(hf_dir)
        self._files: dict[str, Any] = {}  # file name -> open safe_open handle
        self._where: dict[str, str] = {}  # tensor name -> file name
        for name in self._file_names():
            handle = self._open(self.dir / name)
            self._files[name] = handle
            for key in handle.keys():
                self._where[key] = name

    def _file_names(self) -> list[str]:
        index = self.dir / INDEX
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (ValueError, KeyError, TypeError) as exc:
                raise PretrainError(f"{index}: not a safetensors index ({exc}); download it again") from None
            names = sorted(set(weight_map.values()))
            missing = [n for n in names if not (self.dir / n).is_file()]
            if missing:
                raise PretrainError(f"{self.dir / missing[0]}: missing ({len(missing)} of {len(names)} shards listed "
                                    f"in {INDEX} are absent); download the model again")
            return names
        if (self.dir / SINGLE).is_file():
            return [SINGLE]
        if any(self.dir.glob("*.bin")):
            raise PretrainError(f"{self.dir}: only PyTorch .bin weights; convert them with transformers "
                                "(`from_pretrained(...).save_pretrained(DIR)` writes model.safetensors)")
        raise PretrainError(f"{self.dir}: no {SINGLE} or {INDEX}; pass a Hugging Face model directory with its weights")

    @staticmethod
    def _open(path: Path):
        from safetensors import safe_open

        try:
            return safe_open(str(path), framework="pt")
        except Exception as exc:  # safetensors raises its own SafetensorError (and OSError)
            raise PretrainError(f"{path}: not a readable safetensors file ({str(exc)[:120]}); it is truncated or "
                                "corrupt: download it again") from None

    def __getitem__(self, key: str) -> torch.Tensor:
        name = self._where[key]
        try:
            return self._files[name].get_tensor(key)
        except Exception as exc:
            raise PretrainError(f"{self.dir / name}: cannot read tensor '{key}' ({str(exc)[:120]}); the file is "
                                "corrupt: download it again") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)
