"""Block tokens: ``ir_e6_k5_c40_n3_s2_se0.25`` <-> ``InvertedResidual(...)``.

One spelling per block: the kind, then the tokens whose value differs from the default, in the
order of the dataclass fields; integers as digits, fractions as Python writes the shortest
round-tripping float (``se0.25``, ``d0.2``), flags as bare words. Decoding accepts tokens in any
order, so hand-written strings are forgiving, while encoding always yields the canonical form.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from typing import Any

from space.blocks import ACTIVATIONS, ALL_KINDS, Block
from space.errors import ArchError

_KEYED = re.compile(r"^([a-z]+)(\d+(?:\.\d+)?)$")


def format_number(value: int | float) -> str:
    """Canonical number spelling: ``3``, ``0.25``, ``1.0``."""
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def encode_block(block: Block) -> str:
    """The canonical token string of one block."""
    parts = [block.kind]
    for f in fields(block):
        value = getattr(block, f.name)
        if f.default is not MISSING and value == f.default:
            continue
        meta = f.metadata
        if meta["type"] == "number":
            parts.append(meta["token"] + format_number(value))
        elif meta["type"] == "flag":
            parts.append(meta["token"])
        else:  # activation
            parts.append(value)
    return "_".join(parts)


def decode_block(text: str, where: str) -> Block:
    """Parse one item such as ``ir_e6_k3_c24_n2_s2``; ``where`` prefixes error fields."""
    kind, *tokens = text.split("_")
    cls = ALL_KINDS.get(kind)
    if cls is None:
        raise ArchError(
            f"{where}.kind", kind, f"unknown block; expected one of {sorted(ALL_KINDS)}"
        )
    by_token = {f.metadata["token"]: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for token in tokens:
        name, value = _decode_token(cls, by_token, token, where)
        if name in values:
            raise ArchError(f"{where}.{token}", text, "option given twice")
        values[name] = value
    missing = [
        f.metadata["token"]
        for f in fields(cls)
        if f.default is MISSING and f.default_factory is MISSING and f.name not in values
    ]
    if missing:
        raise ArchError(f"{where}.{missing[0]}", text, f"{kind} needs a value for {missing[0]}")
    try:
        return cls(**values)
    except ArchError as exc:
        raise ArchError(f"{where}.{exc.field}", exc.value, exc.reason) from None


def _decode_token(
    cls: type[Block], by_token: dict[str, Any], token: str, where: str
) -> tuple[str, Any]:
    if token in ACTIVATIONS:
        return by_token["act"].name, token
    f = by_token.get(token)
    if f is not None and f.metadata["type"] == "flag":
        return f.name, not f.default
    match = _KEYED.match(token)
    f = by_token.get(match.group(1)) if match else None
    if match is None or f is None or f.metadata["type"] != "number":
        allowed = sorted(
            t if m.metadata["type"] != "number" else t + "<n>"
            for t, m in by_token.items()
            if t != "act"
        )
        raise ArchError(
            f"{where}.{token}",
            token,
            f"unknown {cls.kind} option; expected one of {allowed} or an activation "
            f"{list(ACTIVATIONS)}",
        )
    digits = match.group(2)
    if isinstance(f.default, float):
        return f.name, float(digits)
    if "." in digits:
        raise ArchError(f"{where}.{match.group(1)}", digits, "must be a whole number")
    return f.name, int(digits)
