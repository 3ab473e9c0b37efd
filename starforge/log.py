"""Logging and progress bars shared by every stage.

One line per event, timestamps, only rank 0 prints; tqdm bars are silent off a terminal so CI
logs stay readable.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

_FORMAT = "%(asctime)s %(levelname).1s %(name)s: %(message)s"


def is_rank_zero() -> bool:
    """True unless torchrun/Slurm says this process is not global rank 0."""
    for var in ("RANK", "SLURM_PROCID"):
        if var in os.environ:
            return os.environ[var] == "0"
    return True


def setup_logging(verbose: bool = False) -> None:
    """Configure the root logger once, from the CLI. Non-zero ranks only log warnings."""
    level = logging.DEBUG if verbose else logging.INFO
    if not is_rank_zero():
        level = logging.WARNING
    logging.basicConfig(level=level, format=_FORMAT, datefmt="%H:%M:%S", stream=sys.stderr, force=True)
    # Chatty libraries: keep their warnings, drop their info lines.
    for name in ("datatrove", "urllib3", "matplotlib", "presidio-analyzer", "filelock", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """A tqdm bar on a terminal (rank 0 only), a plain iterator elsewhere."""
    disable = not (sys.stderr.isatty() and is_rank_zero())
    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable, dynamic_ncols=True))
