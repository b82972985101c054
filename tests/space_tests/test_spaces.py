"""Search spaces: dimensions, decoding, exact sizes, membership and JSON."""

from __future__ import annotations

import json
import random

import pytest

from space import SearchSpaceError, UnknownPresetError
from space.presets import SPACE_PRESETS, search_space
from space.spaces import (
    FactorizedSpace,
    LayerwiseSpace,
    StageChoices,
    iter_assignments,
    space_from_dict,
)


def _tiny_factorized() -> FactorizedSpace:
    stages = (
        StageChoices(
            channels=16,
            layers=1,
            stride=1,
            ops=("conv", "ir_e3", "fire"),
            kernels=(3, 5),
            se_ratios=(0.0, 0.25),
            skips=("identity", "none"),
            depth_deltas=(0, 1),
        ),
        StageChoices(channels=24, layers=2, stride=2, ops=("ds", "sh2"), widths=(1.0, 1.5)),
    )
    return FactorizedSpace(
        name="tiny",
        stem=("conv_k3_c8_s2",),
        head="head",
        stages=stages,
        resolutions=(32, 48),
        num_classes=10,
    )


def _tiny_layerwise() -> LayerwiseSpace:
    return LayerwiseSpace(
        name="lw",
        stem=("conv_k3_c16",),
        head="head",
        slots=((16, 1), (24, 2), (24, 1)),
        ops=("ir_e3_k3", "ir_e1_k3_fullexp", "skip"),
        resolutions=(32,),
        num_classes=10,
    )


@pytest.mark.parametrize("space", [_tiny_factorized(), _tiny_layerwise()], ids=["fact", "lw"])
def test_size_counts_distinct_architectures_exactly(space) -> None:
    distinct = {str(space.decode(a)) for a in iter_assignments(space)}
    assert space.size() == len(distinct)


@pytest.mark.parametrize("name", sorted(SPACE_PRESETS))
def test_presets_decode_round_trip_and_serialise(name: str) -> None:
    space = search_space(name)
    assert space.size() > 1000
    assert space_from_dict(json.loads(json.dumps(space.to_dict()))) == space
    rng = random.Random(0)
    for _ in range(20):
        arch = space.decode(space.sample(rng))
        assert space.decode(space.assignment_for(arch)) == arch


def test_preset_sizes_follow_from_their_choices() -> None:
    # FBNet: 9 ops on each of 22 layers, all distinct.
    assert search_space("fbnet").size() == 9**22
    assert search_space("fbnet").dimensions()["l0_op"][-1] == "skip"


def test_dimensions_list_only_real_choices() -> None:
    dims = _tiny_factorized().dimensions()
    assert set(dims) == {
        "resolution",
        "s0_op",
        "s0_k",
        "s0_se",
        "s0_skip",
        "s0_depth",
        "s1_op",
        "s1_width",
    }
    arch = _tiny_factorized().decode(
        {
            "resolution": 48,
            "s0_op": "ir_e3",
            "s0_k": 5,
            "s0_se": 0.25,
            "s0_skip": "none",
            "s0_depth": 1,
            "s1_op": "sh2",
            "s1_width": 1.5,
        }
    )
    assert str(arch) == (
        "r48_w1.0_n10:conv_k3_c8_s2|ir_e3_k5_c16_n2_se0.25_noskip|sh2_k3_c40_n2_s2|head"
    )


def test_bad_assignments_name_the_dimension() -> None:
    space = _tiny_factorized()
    good = {name: choices[0] for name, choices in space.dimensions().items()}
    with pytest.raises(SearchSpaceError, match="s0_k"):
        space.decode({**good, "s0_k": 7})
    with pytest.raises(SearchSpaceError, match="lacks dimension 's1_op'"):
        space.decode({k: v for k, v in good.items() if k != "s1_op"})


def test_non_members_are_reported() -> None:
    space = search_space("mnasnet")
    other = search_space("mixed")
    rng = random.Random(5)
    while "sh2" not in str(arch := other.decode(other.sample(rng))):
        pass
    with pytest.raises(SearchSpaceError, match="not in space 'mnasnet'"):
        space.assignment_for(arch)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"kind": "grid"}, "kind must be"),
        (
            {"kind": "factorized", "name": "x", "stem": ["conv_k3_c8"], "head": "head"},
            "at least one stage",
        ),
        (
            {
                "kind": "factorized",
                "name": "x",
                "stem": ["conv_k3_c8"],
                "head": "head",
                "stages": [{"channels": 8, "layers": 1, "stride": 1, "ops": ["warp"]}],
            },
            "unknown stage op",
        ),
        (
            {
                "kind": "factorized",
                "name": "x",
                "stem": ["conv_k3_c8"],
                "head": "head",
                "stages": [{"channels": 8, "layers": 1, "stride": 1, "ops": []}],
            },
            "at least one",
        ),
        (
            {
                "kind": "factorized",
                "name": "x",
                "stem": ["conv_k3_c8"],
                "head": "head",
                "stages": [
                    {"channels": 8, "layers": 1, "stride": 1, "ops": ["conv"], "depth_deltas": [-1]}
                ],
            },
            "would leave none",
        ),
        (
            {
                "kind": "layerwise",
                "name": "x",
                "stem": ["conv_k3_c8"],
                "head": "head",
                "slots": [[8, 1]],
                "ops": ["ir_e3_k4"],
            },
            "does not decode",
        ),
        (
            {
                "kind": "layerwise",
                "name": "x",
                "stem": ["conv_k3_c8"],
                "head": "head",
                "slots": [],
                "ops": ["skip"],
            },
            "needs slots",
        ),
        ({"kind": "layerwise", "name": "x", "bogus": 1}, "invalid search space"),
    ],
)
def test_invalid_space_definitions_are_rejected(data: dict, fragment: str) -> None:
    with pytest.raises(SearchSpaceError, match=fragment):
        space_from_dict(data)


def test_unknown_preset() -> None:
    with pytest.raises(UnknownPresetError, match="expected one of"):
        search_space("darts")


def test_with_task_retargets_input_and_classes() -> None:
    space = search_space("mnasnet").with_task(resolution=28, in_channels=1, num_classes=10)
    arch = space.decode(space.sample(random.Random(1)))
    assert (arch.resolution, arch.in_channels, arch.num_classes) == (28, 1, 10)
