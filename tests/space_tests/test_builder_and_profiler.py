"""Built networks run, are deterministic, and cost exactly what the profiler says."""

from __future__ import annotations

import torch
from hypothesis import given, settings

from space import Arch, parse_arch
from space.blocks import ALL_KINDS, Head
from space.builder import BUILDERS, build_model
from space.profiler import BLOCK_COSTS, primitives, profile_arch
from tests.space_tests.strategies import free_archs, space_archs


def _param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_forward_and_profile(arch: Arch) -> None:
    model = build_model(arch).eval()
    x = torch.randn(2, arch.in_channels, arch.resolution, arch.resolution)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, arch.num_classes)
    assert torch.isfinite(out).all()
    profile = profile_arch(arch)
    assert profile.params == _param_count(model)
    assert profile.macs > 0
    assert profile.peak_activation_bytes >= 4 * arch.in_channels * arch.resolution**2
    # the latency features' weights read: every conv and linear matrix, nothing else
    matrices = sum(p.numel() for p in model.parameters() if p.dim() > 1)
    assert sum(p.weights for p in primitives(arch)) == matrices


@settings(max_examples=40, deadline=None)
@given(space_archs())
def test_space_members_build_run_and_profile_exactly(arch: Arch) -> None:
    _check_forward_and_profile(arch)


@settings(max_examples=60, deadline=None)
@given(free_archs())
def test_any_valid_block_mix_builds_runs_and_profiles_exactly(arch: Arch) -> None:
    _check_forward_and_profile(arch)


def test_profiler_layers_follow_the_feature_map() -> None:
    arch = parse_arch("r32_w1.0_n10:conv_k3_c16_s2|ir_e6_k3_c24_n2_s2|maxpool_k3_s2|head_c64")
    names = [row.name for row in profile_arch(arch).layers]
    shapes = [row.out_shape for row in profile_arch(arch).layers]
    assert names == ["0.0", "1.0", "1.1", "2.0", "head"]
    assert shapes == [(16, 16, 16), (24, 8, 8), (24, 8, 8), (24, 4, 4), (10, 1, 1)]


def test_profiler_counts_conv_macs_by_hand() -> None:
    # 3x3 conv 3->8 on 8x8 output: 9*3*8*64 MACs; linear 8->10: 80 MACs.
    profile = profile_arch(parse_arch("r16_w1.0_n10:conv_k3_c8_s2|head"))
    assert profile.macs == 9 * 3 * 8 * 64 + 80
    assert profile.params == 9 * 3 * 8 + 2 * 8 + 8 * 10 + 10


def test_peak_activation_memory_by_hand() -> None:
    # conv 3x8x8 -> 8x8x8; inverted residual at 8x8: 8 -> 16 (expand) -> 16 (dw) -> 8 with the
    # block input held for the skip: the dw step holds 16*64 + 16*64 + 8*64 floats.
    profile = profile_arch(parse_arch("r8_w1.0_n10:conv_k3_c8|ir_e2_k3_c8|head"))
    conv, inverted, head = profile.layers
    assert conv.peak_activation_bytes == 4 * (3 * 64 + 8 * 64)
    assert inverted.peak_activation_bytes == 4 * (16 * 64 + 16 * 64 + 8 * 64)
    assert head.peak_activation_bytes == 4 * (8 * 64 + 10)
    assert profile.peak_activation_bytes == inverted.peak_activation_bytes


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    arch = parse_arch("r32_w1.0_n10:conv_k3_c16_s2|ir_e6_k3_c24_s2_se0.25|sh2_k3_c32|head_c64")
    a, b, c = build_model(arch, seed=3), build_model(arch, seed=3), build_model(arch, seed=4)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    assert any(
        not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )


def test_building_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    build_model(parse_arch("r32_w1.0_n10:conv_k3_c16|head"), seed=9)
    assert torch.equal(torch.rand(1), expected)


def test_residual_only_where_shapes_allow_and_not_when_disabled() -> None:
    arch = parse_arch("r16_w1.0_n10:conv_k3_c16|ir_e3_k3_c16_n2|ir_e3_k3_c16_noskip|head")
    model = build_model(arch)
    residuals = [m.identity for m in model.features if hasattr(m, "identity")]
    assert residuals == [False, True, True, False]


def test_unpadded_conv_gets_no_identity_even_with_res() -> None:
    arch = parse_arch("r16_w1.0_n10:conv_k3_c8|conv_k3_c8_res_valid|conv_k3_c8_res|head")
    residuals = [m.identity for m in build_model(arch).features]
    assert residuals == [False, False, True]
    _check_forward_and_profile(arch)


def test_every_layer_kind_has_a_builder_and_a_cost() -> None:
    """Adding a block kind means one entry per concern: these tables are where they go."""
    layer_kinds = {cls for cls in ALL_KINDS.values() if cls is not Head}
    assert set(BUILDERS) == layer_kinds
    assert set(BLOCK_COSTS) == layer_kinds
