"""Search spaces as data: dimensions (name -> choices) that decode into an ``Arch``.

Two shapes of space, both JSON round-trippable and free of any optimiser (``search`` drives them
through Optuna):

* ``FactorizedSpace`` is MnasNet's factorized hierarchical space: per stage one op, kernel, SE
  ratio, skip op, width multiple of the base filters and layer-count delta, shared by all layers
  of the stage. Dimensions ``s{i}_op``, ``s{i}_k``, ``s{i}_se``, ``s{i}_skip``, ``s{i}_width``,
  ``s{i}_depth``.
* ``LayerwiseSpace`` is FBNet's: one op per layer from a list. Dimensions ``l{i}_op``.

Both may add the global ``resolution`` and ``width`` dimensions. A dimension with one choice is
fixed and not listed. ``size()`` counts distinct architectures (distinct canonical strings).
"""

from __future__ import annotations

import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Self

from space.arch import Arch
from space.blocks import Block, Head
from space.errors import SearchSpaceError, SpaceError
from space.grammar import decode_block, encode_block
from space.shapes import make_divisible

Choice = int | float | str
STAGE_OPS = ("conv", "ds", "ir_e1", "ir_e3", "ir_e4", "ir_e6", "sh1_g2", "sh1_g3", "sh2", "fire")
SKIP_OPS = ("identity", "none")


def _fixed_or_dimension(dims: dict[str, list[Choice]], name: str, choices: tuple) -> None:
    if len(choices) > 1:
        dims[name] = list(choices)


def _pick(assignment: Mapping[str, object], name: str, choices: tuple) -> Any:
    if len(choices) == 1:
        return choices[0]
    if name not in assignment:
        raise SearchSpaceError(f"assignment lacks dimension {name!r}")
    value = assignment[name]
    if value not in choices:
        raise SearchSpaceError(f"{name}={value!r} is not one of {list(choices)}")
    return value


def stage_item(
    op: str, kernel: int, channels: int, layers: int, stride: int, se: float, skip: str, act: str
) -> Block:
    """The block string one stage choice stands for (tokens the op does not take are dropped)."""
    kind, _, option = op.partition("_")
    tokens = [kind]
    if kind == "ir":
        tokens.append(option)
    if kind != "fire":
        tokens.append(f"k{kernel}")
    if kind == "sh1":
        tokens.append(option)
    if kind == "fire":
        tokens.append(f"sq{max(1, channels // 8)}")
    tokens += [f"c{channels}", f"n{layers}", f"s{stride}"]
    if kind == "ir" and se:
        tokens.append(f"se{se!r}")
    if kind == "ir" and skip == "none":
        tokens.append("noskip")
    if kind in ("conv", "ds") and skip == "identity":
        tokens.append("res")
    if kind == "fire":
        tokens.append("bn")  # searched fire modules train with BN, unlike SqueezeNet's
    tokens.append(act)
    return decode_block("_".join(tokens), "stage")


@dataclass(frozen=True)
class StageChoices:
    """One stage of a factorized space: its MobileNetV2-style base and the allowed choices."""

    channels: int
    layers: int
    stride: int
    ops: tuple[str, ...]
    kernels: tuple[int, ...] = (3,)
    se_ratios: tuple[float, ...] = (0.0,)
    skips: tuple[str, ...] = ("identity",)
    widths: tuple[float, ...] = (1.0,)
    depth_deltas: tuple[int, ...] = (0,)
    divisor: int = 8  # channel counts are rounded to this multiple (grouped ops need more)

    def __post_init__(self) -> None:
        for name in ("ops", "kernels", "se_ratios", "skips", "widths", "depth_deltas"):
            if not getattr(self, name):
                raise SearchSpaceError(f"stage {name} must list at least one choice")
        bad = [op for op in self.ops if op not in STAGE_OPS]
        if bad:
            raise SearchSpaceError(f"unknown stage op {bad[0]!r}; expected one of {STAGE_OPS}")
        if any(skip not in SKIP_OPS for skip in self.skips):
            raise SearchSpaceError(f"skips must be among {SKIP_OPS}")
        if self.layers + min(self.depth_deltas) < 1:
            raise SearchSpaceError(f"layers {self.layers} + depth delta would leave none")

    def stage_channels(self, width: float) -> int:
        return (
            self.channels if width == 1.0 else make_divisible(self.channels * width, self.divisor)
        )

    def item(
        self, op: str, kernel: int, se: float, skip: str, width: float, depth: int, *, act: str
    ) -> Block:
        return stage_item(
            op, kernel, self.stage_channels(width), self.layers + depth, self.stride, se, skip, act
        )

    def choice_axes(self) -> dict[str, tuple]:
        return {
            "op": self.ops,
            "k": self.kernels,
            "se": self.se_ratios,
            "skip": self.skips,
            "width": self.widths,
            "depth": self.depth_deltas,
        }

    def items(self, act: str) -> dict[Block, dict[str, Choice]]:
        """Every distinct layer this stage can produce, with one choice tuple giving it."""
        axes = self.choice_axes()
        found: dict[Block, dict[str, Choice]] = {}
        for combo in itertools.product(*axes.values()):
            choice = dict(zip(axes, combo, strict=True))
            found.setdefault(self.item(*combo, act=act), choice)
        return found


@dataclass(frozen=True)
class _SpaceBase(ABC):
    """Shared parts: fixed stem items and head, global resolution/width choices, the task."""

    kind: ClassVar[str]
    name: str
    stem: tuple[str, ...]
    head: str
    resolutions: tuple[int, ...] = (224,)
    widths: tuple[float, ...] = (1.0,)
    in_channels: int = 3
    num_classes: int = 1000
    act: str = "relu"

    def _global_dimensions(self) -> dict[str, list[Choice]]:
        dims: dict[str, list[Choice]] = {}
        _fixed_or_dimension(dims, "resolution", self.resolutions)
        _fixed_or_dimension(dims, "width", self.widths)
        return dims

    def _stem_blocks(self) -> tuple[Block, ...]:
        return tuple(decode_block(item, f"stem[{i}]") for i, item in enumerate(self.stem))

    def _head_block(self) -> Head:
        head = decode_block(self.head, "head")
        if not isinstance(head, Head):
            raise SearchSpaceError(f"head {self.head!r} must be a head item ('head...')")
        return head

    def _arch(self, assignment: Mapping[str, object], body: list[Block]) -> Arch:
        return Arch(
            resolution=_pick(assignment, "resolution", self.resolutions),
            width=float(_pick(assignment, "width", self.widths)),
            layers=(*self._stem_blocks(), *body),
            head=self._head_block(),
            in_channels=self.in_channels,
            num_classes=self.num_classes,
        )

    def _global_assignment(self, arch: Arch) -> dict[str, Choice]:
        if arch.resolution not in self.resolutions or arch.width not in self.widths:
            raise SearchSpaceError(
                f"{arch.resolution}px at width {arch.width} is not in space {self.name!r}"
            )
        if (arch.in_channels, arch.num_classes) != (self.in_channels, self.num_classes):
            raise SearchSpaceError(
                f"space {self.name!r} is for {self.in_channels} input "
                f"channels and {self.num_classes} classes"
            )
        assignment: dict[str, Choice] = {}
        if len(self.resolutions) > 1:
            assignment["resolution"] = arch.resolution
        if len(self.widths) > 1:
            assignment["width"] = arch.width
        return assignment

    def _body(self, arch: Arch, count: int) -> tuple[Block, ...]:
        """The searched layers of ``arch``, once its fixed stem and head are checked."""
        stem = self._stem_blocks()
        if (
            arch.layers[: len(stem)] != stem
            or len(arch.layers) != len(stem) + count
            or arch.head != self._head_block()
        ):
            raise SearchSpaceError(f"the stem, head or depth differ from space {self.name!r}")
        return arch.layers[len(stem) :]

    def sample(self, rng: random.Random) -> dict[str, Choice]:
        """A uniformly random assignment of every dimension."""
        return {name: rng.choice(choices) for name, choices in self.dimensions().items()}

    @abstractmethod
    def dimensions(self) -> dict[str, list[Choice]]:
        """Dimension name -> its choices (dimensions with a single choice are left out)."""

    @abstractmethod
    def decode(self, assignment: Mapping[str, object]) -> Arch:
        """The architecture one assignment of every dimension stands for."""

    @abstractmethod
    def size(self) -> int:
        """How many distinct architectures the space holds."""

    @abstractmethod
    def assignment_for(self, arch: Arch) -> dict[str, Choice]:
        """The assignment decoding to ``arch``; ``SearchSpaceError`` if it is not a member."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def with_task(self, *, resolution: int, in_channels: int, num_classes: int) -> Self:
        """The same space for another data set: input size, channels and classes."""
        return replace(
            self, resolutions=(resolution,), in_channels=in_channels, num_classes=num_classes
        )


@dataclass(frozen=True)
class FactorizedSpace(_SpaceBase):
    """MnasNet's factorized hierarchical space (see module docstring)."""

    kind: ClassVar[str] = "factorized"
    stages: tuple[StageChoices, ...] = field(default_factory=tuple)

    def dimensions(self) -> dict[str, list[Choice]]:
        dims = self._global_dimensions()
        for i, stage in enumerate(self.stages):
            for axis, choices in stage.choice_axes().items():
                _fixed_or_dimension(dims, f"s{i}_{axis}", choices)
        return dims

    def decode(self, assignment: Mapping[str, object]) -> Arch:
        body = [
            stage.item(
                *(
                    _pick(assignment, f"s{i}_{axis}", choices)
                    for axis, choices in stage.choice_axes().items()
                ),
                act=self.act,
            )
            for i, stage in enumerate(self.stages)
        ]
        return self._arch(assignment, body)

    def size(self) -> int:
        per_stage = [len(stage.items(self.act)) for stage in self.stages]
        return math.prod(per_stage) * len(set(self.resolutions)) * len(set(self.widths))

    def assignment_for(self, arch: Arch) -> dict[str, Choice]:
        assignment = self._global_assignment(arch)
        for i, (stage, layer) in enumerate(
            zip(self.stages, self._body(arch, len(self.stages)), strict=True)
        ):
            choice = stage.items(self.act).get(layer)
            if choice is None:
                raise SearchSpaceError(
                    f"stage {i} ({encode_block(layer)}) is not in space {self.name!r}"
                )
            for axis, choices in stage.choice_axes().items():
                if len(choices) > 1:
                    assignment[f"s{i}_{axis}"] = choice[axis]
        return assignment


@dataclass(frozen=True)
class LayerwiseSpace(_SpaceBase):
    """FBNet's layer-wise space: each slot (channels, stride) picks one op template."""

    kind: ClassVar[str] = "layerwise"
    slots: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    ops: tuple[str, ...] = field(default_factory=tuple)

    def _layer(self, op: str, slot: tuple[int, int]) -> Block:
        channels, stride = slot
        return decode_block(f"{op}_c{channels}_s{stride}_{self.act}", "op")

    def dimensions(self) -> dict[str, list[Choice]]:
        dims = self._global_dimensions()
        for i in range(len(self.slots)):
            _fixed_or_dimension(dims, f"l{i}_op", self.ops)
        return dims

    def decode(self, assignment: Mapping[str, object]) -> Arch:
        body = [
            self._layer(_pick(assignment, f"l{i}_op", self.ops), slot)
            for i, slot in enumerate(self.slots)
        ]
        return self._arch(assignment, body)

    def _slot_layers(self, slot: tuple[int, int]) -> dict[Block, str]:
        """Distinct layers of one slot -> the first op giving each."""
        return {self._layer(op, slot): op for op in reversed(self.ops)}

    def size(self) -> int:
        per_slot = [len(self._slot_layers(slot)) for slot in self.slots]
        return math.prod(per_slot) * len(set(self.resolutions)) * len(set(self.widths))

    def assignment_for(self, arch: Arch) -> dict[str, Choice]:
        assignment = self._global_assignment(arch)
        for i, (slot, layer) in enumerate(
            zip(self.slots, self._body(arch, len(self.slots)), strict=True)
        ):
            op = self._slot_layers(slot).get(layer)
            if op is None:
                raise SearchSpaceError(
                    f"layer {i} ({encode_block(layer)}) is not in space {self.name!r}"
                )
            if len(self.ops) > 1:
                assignment[f"l{i}_op"] = op
        return assignment


SearchSpace = FactorizedSpace | LayerwiseSpace


def space_from_dict(data: Mapping[str, Any]) -> SearchSpace:
    """Rebuild a space from its JSON form; errors name the field at fault."""
    try:
        fields_ = {k: v for k, v in data.items() if k != "kind"}
        for key in ("stem", "resolutions", "widths", "ops"):
            if key in fields_:
                fields_[key] = tuple(fields_[key])
        if data.get("kind") == FactorizedSpace.kind:
            stages: list[dict[str, Any]] = [
                {k: tuple(v) if isinstance(v, list) else v for k, v in stage.items()}
                for stage in fields_.get("stages", ())
            ]
            fields_["stages"] = tuple(StageChoices(**stage) for stage in stages)
            space: SearchSpace = FactorizedSpace(**fields_)
        elif data.get("kind") == LayerwiseSpace.kind:
            fields_["slots"] = tuple(tuple(slot) for slot in fields_.get("slots", ()))
            space = LayerwiseSpace(**fields_)
        else:
            raise SearchSpaceError(
                f"kind must be 'factorized' or 'layerwise', not {data.get('kind')!r}"
            )
    except TypeError as exc:
        raise SearchSpaceError(f"invalid search space: {exc}") from None
    _check_decodes(space)
    return space


def _check_decodes(space: SearchSpace) -> None:
    """A space must be non-empty and its first choice must build: catch typos up front."""
    if isinstance(space, FactorizedSpace) and not space.stages:
        raise SearchSpaceError("a factorized space needs at least one stage")
    if isinstance(space, LayerwiseSpace) and not (space.slots and space.ops):
        raise SearchSpaceError("a layer-wise space needs slots and ops")
    first = {name: choices[0] for name, choices in space.dimensions().items()}
    try:
        space.decode(first)
    except SpaceError as exc:
        raise SearchSpaceError(f"space {space.name!r} does not decode: {exc}") from None


def iter_assignments(space: SearchSpace) -> Iterator[dict[str, Choice]]:
    """Every assignment (only sensible for tiny spaces: tests and exhaustive checks)."""
    dims = space.dimensions()
    for combo in itertools.product(*dims.values()):
        yield dict(zip(dims, combo, strict=True))
