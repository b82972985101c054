"""Zero-cost proxies on real digits: finite, reproducible, and they tell networks apart."""

from __future__ import annotations

import math

import pytest
import torch

from search.data import load_dataset
from search.train import to_tensor
from search.zero_cost import PROXIES, zero_cost_score
from space import parse_arch

NARROW = parse_arch("r28_w1.0_i1_n10:conv_k3_c8_s2|conv_k3_c8_s2|head")
WIDE = parse_arch("r28_w1.0_i1_n10:conv_k3_c32_s2|ir_e6_k3_c48_s2|ir_e6_k5_c64_s2|head_c128")


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("mnist5k").subset(64, seed=0)
    return to_tensor(data, 28, 0.13, 0.31), torch.from_numpy(data.labels)


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_scores_are_finite_reproducible_and_tell_networks_apart(name: str, batch) -> None:
    narrow = zero_cost_score(name, NARROW, *batch)
    assert math.isfinite(narrow)
    assert zero_cost_score(name, NARROW, *batch) == narrow
    assert zero_cost_score(name, WIDE, *batch) > narrow  # more capacity scores higher


def test_an_unknown_proxy_is_refused(batch) -> None:
    with pytest.raises(ValueError, match="unknown zero-cost proxy 'flops'"):
        zero_cost_score("flops", NARROW, *batch)
