"""Reference networks reproduce their published parameter counts and multiply-adds."""

from __future__ import annotations

import pytest
import torch

from space import ArchError, UnknownPresetError
from space.builder import build_model
from space.presets import search_space
from space.profiler import profile_arch
from space.references import PUBLISHED, reference_arch, reference_names, resolve_arch


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_equals_the_published_figure(name: str) -> None:
    published = PUBLISHED[name]
    model = build_model(reference_arch(name))
    counted = sum(p.numel() for p in model.parameters())
    assert counted == published.params
    assert profile_arch(reference_arch(name)).params == counted


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_multiply_adds_within_two_percent(name: str) -> None:
    macs = profile_arch(reference_arch(name)).macs
    assert abs(macs / PUBLISHED[name].macs - 1) < 0.02


def test_every_reference_is_published_and_runs_at_224() -> None:
    assert set(reference_names()) == set(PUBLISHED)
    model = build_model(reference_arch("shufflenet_v1_g3")).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_shufflenet_v1_count_derived_from_the_authors_code() -> None:
    # Published only as "1.9M"; derive the exact count of the authors' layer list by hand.
    def unit(cin: int, out: int, mid: int, branch: int, g1: int) -> int:
        return cin * mid // g1 + 2 * mid + 9 * mid + 2 * mid + mid * branch // 3 + 2 * branch

    stem = 27 * 24 + 48
    stage2 = unit(24, 240, 60, 216, 1) + 3 * unit(240, 240, 60, 240, 3)
    stage3 = unit(240, 480, 120, 240, 3) + 7 * unit(480, 480, 120, 480, 3)
    stage4 = unit(480, 960, 240, 480, 3) + 3 * unit(960, 960, 240, 960, 3)
    assert stem + stage2 + stage3 + stage4 + 960 * 1000 == PUBLISHED["shufflenet_v1_g3"].params
    assert round(PUBLISHED["shufflenet_v1_g3"].params / 1e5) == 19  # the published 1.9M


def test_width_multiplier_follows_mobilenet_rounding() -> None:
    half = reference_arch("mobilenet_v2@0.5")
    assert str(half).startswith("r224_w0.5:")
    assert reference_arch("mobilenet_v2@1.0") == reference_arch("mobilenet_v2")
    # MobileNetV2 keeps its 1280-channel head below width 1.0 and rounds stages to 8.
    rows = profile_arch(half).layers
    assert rows[0].out_shape[0] == 16 and rows[-2].out_shape[0] == 160
    assert profile_arch(reference_arch("mobilenet_v1@0.25")).params < 500_000


def test_fbnet_networks_are_members_of_the_fbnet_space() -> None:
    ops = ["k3_e1", "skip", "k5_e6_g2".replace("_g2", ""), "k5_e1_g2"] * 5 + ["k3_e3", "k3_e6"]
    arch = reference_arch("fbnet:" + ",".join(ops))
    space = search_space("fbnet")
    assert space.decode(space.assignment_for(arch)) == arch
    assert str(arch).startswith("r32_w1.0_n100:conv_k3_c16|ir_e1_k3_c16_fullexp|skip_c24|")


def test_mobilenet_v2_skeleton_is_reachable_in_the_mnasnet_space() -> None:
    space = search_space("mnasnet")
    assignment = {name: choices[0] for name, choices in space.dimensions().items()}
    assignment.update({f"s{i}_op": "ir_e6" for i in range(7)})
    assignment.update({f"s{i}_width": 1.0 for i in range(7)})
    assignment.update({f"s{i}_depth": 0 for i in range(7)})
    arch = space.decode(assignment)
    assert "|ir_e6_k3_c24_n2_s2|ir_e6_k3_c32_n3_s2|ir_e6_k3_c64_n4_s2|" in str(arch)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("resnet50", UnknownPresetError),
        ("mobilenet_v2@wide", ArchError),
        ("mobilenet_v2@9", ArchError),
        ("fbnet:k3_e1", ArchError),
        ("fbnet:" + ",".join(["k9_e1"] * 22), ArchError),
    ],
)
def test_unknown_or_malformed_names_raise_clear_errors(name: str, error: type) -> None:
    with pytest.raises(error):
        resolve_arch(name)
