"""The architecture string: canonical, lossless, hashable, and strict about errors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings

from space import Arch, ArchError, parse_arch
from tests.space_tests.strategies import free_archs, space_archs

MOBILENET_V2 = (
    "r224_w1.0:conv_k3_c32_s2_relu6|ir_e1_k3_c16_relu6|ir_e6_k3_c24_n2_s2_relu6|"
    "ir_e6_k3_c32_n3_s2_relu6|ir_e6_k3_c64_n4_s2_relu6|ir_e6_k3_c96_n3_relu6|"
    "ir_e6_k3_c160_n3_s2_relu6|ir_e6_k3_c320_relu6|head_c1280_d0.2_relu6"
)


@settings(max_examples=150, deadline=None)
@given(free_archs())
def test_round_trip_is_lossless_for_any_block_mix(arch: Arch) -> None:
    text = str(arch)
    again = parse_arch(text)
    assert again == arch
    assert str(again) == text


@settings(max_examples=100, deadline=None)
@given(space_archs())
def test_round_trip_is_lossless_for_space_members(arch: Arch) -> None:
    assert str(parse_arch(str(arch))) == str(arch)


def test_canonical_spelling_orders_tokens_and_drops_defaults() -> None:
    messy = "r224_w1.0_i3_n1000:conv_s2_c32_k3_relu6_n1|ir_relu6_c16_k3_e1_s1_se0.0|head_c8"
    assert str(parse_arch(messy)) == "r224_w1.0:conv_k3_c32_s2_relu6|ir_e1_k3_c16_relu6|head_c8"


def test_hash_is_sha256_of_the_canonical_string() -> None:
    arch = parse_arch(MOBILENET_V2)
    assert arch.hash == hashlib.sha256(MOBILENET_V2.encode()).hexdigest()[:16]
    assert parse_arch(MOBILENET_V2.replace("r224", "r192")).hash != arch.hash


def test_structure_is_exposed() -> None:
    arch = parse_arch(MOBILENET_V2)
    assert arch.stem.kind == "conv"
    assert len(arch.stages) == 7
    assert arch.head.channels == 1280


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("mobilenet", "header", "mobilenet"),
        ("r224:conv_k3_c8|head", "header", "r224"),
        ("r224_w1.0:conv_k3_c8", "head", "conv_k3_c8"),
        ("r224_w1.0:conv_k3_c8|head|head", "layers[1]", "head"),
        ("r224_w1.0:conv_k3_c8|bottleneck_c8|head", "layers[1].kind", "bottleneck"),
        ("r224_w1.0:conv_k3_c8|ir_e6_k3_c8_zz9|head", "layers[1].zz9", "zz9"),
        ("r224_w1.0:conv_k3_c8|ir_e6_k4_c8|head", "layers[1].k", 4),
        ("r224_w1.0:conv_k3_c8|ir_e6_k9_c8|head", "layers[1].k", 9),
        ("r224_w1.0:conv_k3_c8|ir_k3_c8|head", "layers[1].e", "ir_k3_c8"),
        ("r224_w1.0:conv_k3_c8|ir_e6_k3_c8_c16|head", "layers[1].c16", "ir_e6_k3_c8_c16"),
        ("r224_w1.0:conv_k3_c8|ir_e6_k3_c8_s3|head", "layers[1].s", 3),
        ("r224_w1.0:conv_k3_c8|ir_e1.5_k3_c8|head", "layers[1].e", "1.5"),
        ("r224_w1.0:conv_k3_c8|ir_e6_k3_c8_fullexp|head", "layers[1].fullexp", True),
        ("r224_w1.0:conv_k3_c8|ir_e6_k3_c8_relu7|head", "layers[1].relu7", "relu7"),
        ("r224_w9.0:conv_k3_c8|head", "w", 9.0),
        ("r224_w0.123456:conv_k3_c8|head", "w", 0.123456),
        ("r0_w1.0:conv_k3_c8|head", "r", 0),
        ("r224_w1.0:maxpool_k3_s2|head", "layers[0]", "maxpool"),
        ("r224_w1.0:conv_k3_c8|maxpool_k1_s2|head", "layers[1].s", 2),
        ("r224_w1.0:conv_k3_c8|head_c8|head", "layers[1]", "head_c8"),
        ("r224_w1.0:conv_k3_c8|head_c8_convcls", "head.convcls", True),
        ("r224_w1.0:conv_k3_c8|sh2_k3_c9|head", "layers[1].c", 9),
    ],
)
def test_malformed_strings_name_the_field(text: str, field: str, value: object) -> None:
    with pytest.raises(ArchError) as caught:
        parse_arch(text)
    assert caught.value.field == field
    assert caught.value.value == value
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("r224_w1.0:conv_k3_c30|ir_e6_k3_g4_c32|head", "layers[1].g", "input (30"),
        ("r224_w1.0:conv_k3_c32|sh1_k3_g3_c48_s2|head", "layers[1].g", "input (32"),
        ("r224_w1.0:conv_k3_c48|sh1_k3_g2_c32_s2|head", "layers[1].c", "must exceed"),
        (
            "r8_w1.0:conv_k3_c8_s2|conv_k3_c8_s2|conv_k3_c8_s2|conv_k3_c8_s2|head",
            "r",
            "too small for the strides",
        ),
        ("r5_w1.0:conv_k7_c8_valid|head", "r", "unpadded kernel 7"),
    ],
)
def test_impossible_networks_fail_before_any_torch_code(
    text: str, field: str, fragment: str
) -> None:
    with pytest.raises(ArchError) as caught:
        parse_arch(text)
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_overlong_strings_are_refused() -> None:
    with pytest.raises(ArchError, match="longer than"):
        parse_arch("r224_w1.0:" + "|".join(["conv_k3_c8"] * 2000) + "|head")
