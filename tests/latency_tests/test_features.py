"""The predictor's per-kind features, checked by hand on a small network."""

from __future__ import annotations

import pytest

from latency.features import FeatureLevel, features_of
from space import parse_arch

# stem 3->16 at 32x32; ir_e1 16->24 (3x3 depthwise on 16 channels, 1x1 16->24);
# ir_e6 24->144->64 (1x1, 5x5 depthwise stride 2 to 16x16, 1x1); pool; linear 64->10
ARCH = parse_arch("r32_w1.0_n10:conv_k3_c16_s1|ir_e1_k3_c24_n1_s1|ir_e6_k5_c64_n1_s2|head")


def test_narrow_layers_are_priced_apart_from_wide_ones() -> None:
    narrow = features_of(ARCH)[FeatureLevel.NARROW]
    # the depthwise conv on 16 channels cannot fill two 16-float vectors; on 144 it can
    assert narrow["depthwise_k3_s1_w00.count"] == 1
    assert narrow["depthwise_k5_s2_w11.count"] == 1
    # 1x1 convs: 16->24 is narrow both sides, 24->144 only on its input, 144->64 on neither
    assert narrow["pointwise_k1_s1_w00.count"] == 1
    assert narrow["pointwise_k1_s1_w01.count"] == 1
    assert narrow["pointwise_k1_s1_w11.count"] == 1
    # the coarser level pools all three 1x1 convs
    assert features_of(ARCH)[FeatureLevel.KIND]["pointwise_k1_s1.count"] == 3


def test_work_traffic_and_weights_are_summed_per_group_in_millions() -> None:
    kind = features_of(ARCH)[FeatureLevel.KIND]
    pointwise = [16 * 24, 24 * 144, 144 * 64]  # weights of the three 1x1 convs
    maps = [32 * 32, 32 * 32, 16 * 16]  # their output positions
    assert kind["pointwise_k1_s1.mweights"] == pytest.approx(sum(pointwise) / 1e6)
    macs = sum(w * m for w, m in zip(pointwise, maps, strict=True))
    assert kind["pointwise_k1_s1.mmacs"] == pytest.approx(macs / 1e6)
    values = (16 + 24) * 32 * 32 + (24 + 144) * 32 * 32 + (144 + 64) * 16 * 16
    assert kind["pointwise_k1_s1.mvalues"] == pytest.approx(values / 1e6)
    # a depthwise conv reads one kxk filter per channel; the linear head 64x10 weights
    assert kind["depthwise_k5_s2.mweights"] == pytest.approx(25 * 144 / 1e6)
    assert kind["linear_k1_s1.mweights"] == pytest.approx(640 / 1e6)
    assert kind["pool_k16_s16.mweights"] == 0.0


def test_the_nested_level_holds_every_coarser_column() -> None:
    features = features_of(ARCH)
    nested = features[FeatureLevel.NESTED]
    for level in (FeatureLevel.KIND, FeatureLevel.NARROW, FeatureLevel.SIZED):
        assert features[level].items() <= nested.items()
