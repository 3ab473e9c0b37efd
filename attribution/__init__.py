"""Trace generated code back to the training files it came from.

    from attribution import Attributor, build_index
"""

from attribution.attributor import Attributor
from attribution.index import build_index

__all__ = ["Attributor", "build_index"]
