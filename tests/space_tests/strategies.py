"""Hypothesis strategies: architectures from every shipped space, and free-form block lists."""

from __future__ import annotations

import random

from hypothesis import reject
from hypothesis import strategies as st

from space import Arch, ArchError, parse_arch
from space.presets import SPACE_PRESETS, search_space

ACTS = st.sampled_from(["relu", "relu6", "hswish"])
CHANNELS = st.sampled_from([8, 16, 24, 32, 48])
STRIDE = st.sampled_from([1, 2])
N = st.integers(1, 2)


def _suffix(stride: int, n: int | None, act: str) -> str:
    return f"_s{stride}" + (f"_n{n}" if n else "") + f"_{act}"


@st.composite
def block_strings(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["conv", "ds", "ir", "sh1", "sh2", "fire", "skip", "maxpool"]))
    c, s, n, act = draw(CHANNELS), draw(STRIDE), draw(N), draw(ACTS)
    k = draw(st.sampled_from([3, 5, 7]))
    if kind == "conv":
        flags = draw(st.sets(st.sampled_from(["res", "bias", "nobn", "valid"])))
        return f"conv_k{k}_c{c}" + _suffix(s, n, act) + "".join(f"_{f}" for f in sorted(flags))
    if kind == "ds":
        return f"ds_k{k}_c{c}" + _suffix(s, n, act) + draw(st.sampled_from(["", "_res"]))
    if kind == "ir":
        e = draw(st.sampled_from([1, 3, 4, 6]))
        se = draw(st.sampled_from(["", "_se0.25", "_se0.5"]))
        flags = draw(st.sampled_from(["", "_noskip"])) + (
            "_fullexp" if e == 1 and draw(st.booleans()) else ""
        )
        g = draw(st.sampled_from([1, 1, 2]))
        return f"ir_e{e}_k{k}_g{g}_c{c}" + _suffix(s, n, act) + se + flags
    if kind == "sh1":
        return f"sh1_k{k}_g{draw(st.sampled_from([1, 2]))}_c{c}" + _suffix(s, n, act)
    if kind == "sh2":
        return f"sh2_k{k}_c{c}" + _suffix(s, n, act)
    if kind == "fire":
        return (
            f"fire_sq{draw(st.integers(2, 16))}_c{c}"
            + _suffix(s, n, act)
            + draw(st.sampled_from(["", "_bn"]))
        )
    if kind == "skip":
        return f"skip_c{c}" + _suffix(s, None, act)
    return f"maxpool_k{k}_s{min(s, k)}" + draw(st.sampled_from(["", "_ceil"]))


@st.composite
def free_archs(draw: st.DrawFn) -> Arch:
    """Valid architectures from arbitrary block mixtures (invalid draws are rejected)."""
    layers = draw(st.lists(block_strings(), min_size=1, max_size=6))
    head = draw(
        st.sampled_from(["head", "head_c64", "head_d0.2_nobias", "head_convcls", "head_c32_hswish"])
    )
    res = draw(st.sampled_from([16, 24, 32]))
    width = draw(st.sampled_from([0.5, 1.0, 1.25]))
    classes = draw(st.sampled_from([10, 1000]))
    stem = f"conv_k3_c{draw(CHANNELS)}_s{draw(STRIDE)}"
    text = f"r{res}_w{width}_i{draw(st.sampled_from([1, 3]))}_n{classes}:" + "|".join(
        [stem, *layers, head]
    )
    try:
        return parse_arch(text)
    except ArchError:
        reject()


@st.composite
def space_archs(draw: st.DrawFn, resolution: int = 32) -> Arch:
    """A uniformly sampled member of a shipped space, at a small resolution for speed."""
    name = draw(st.sampled_from(sorted(SPACE_PRESETS)))
    space = search_space(name).with_task(resolution=resolution, in_channels=3, num_classes=10)
    return space.decode(space.sample(random.Random(draw(st.integers(0, 2**32)))))
