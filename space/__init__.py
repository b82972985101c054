"""The search space: architecture strings, search spaces, reference networks.

Importing this package does not load PyTorch: the server validates architecture strings with
the standard library alone. ``space.builder`` and ``space.export`` load torch when imported.
"""

from space.arch import Arch, parse_arch
from space.errors import ArchError, SearchSpaceError, SpaceError, UnknownPresetError

__all__ = [
    "Arch",
    "ArchError",
    "SearchSpaceError",
    "SpaceError",
    "UnknownPresetError",
    "parse_arch",
]
