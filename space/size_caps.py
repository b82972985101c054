"""How large a network the service builds: caps on parameters, multiply-accumulates and the
exported ONNX file, checked from the profile (arithmetic on the architecture string, no
PyTorch) before anything is built or exported. One request naming a huge network must cost
microseconds, not the minutes and gigabytes its export would."""

from __future__ import annotations

from dataclasses import dataclass

from space.arch import Arch
from space.errors import SpaceError
from space.profiler import Profile, profile_arch

BYTES_PER_PARAMETER = 4  # the ONNX export stores fp32 weights; the graph itself is small


class ArchTooLargeError(SpaceError):
    """An architecture over one of the service's size caps (``field`` names the cap)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SizeCaps:
    """The caps; the server reads them from its settings (``EDGENAS_MAX_ARCH_*``)."""

    max_arch_params: int = 50_000_000
    max_arch_macs: int = 10_000_000_000
    max_onnx_bytes: int = 200 << 20

    def check(self, arch: Arch) -> Profile:
        """``arch``'s profile, or an ``ArchTooLargeError`` naming the first cap it exceeds."""
        profile = profile_arch(arch)
        refusal = self.refusal(profile)
        if refusal is not None:
            raise refusal
        return profile

    def refusal(self, profile: Profile) -> ArchTooLargeError | None:
        """Why ``profile``'s network may not be built, or None."""
        sizes = (
            ("max_arch_params", profile.params, self.max_arch_params, "parameters"),
            ("max_arch_macs", profile.macs, self.max_arch_macs, "MACs"),
            (
                "max_onnx_bytes",
                profile.params * BYTES_PER_PARAMETER,
                self.max_onnx_bytes,
                "bytes of ONNX (estimated)",
            ),
        )
        for cap, value, limit, unit in sizes:
            if value > limit:
                return ArchTooLargeError(
                    cap,
                    f"the network has {value:,} {unit}, over the service's cap of {limit:,} "
                    f"({cap})",
                )
        return None
