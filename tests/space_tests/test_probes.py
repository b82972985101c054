"""Layer probes: each layer of a network as a one-layer network that costs what the layer does."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings

from space import Arch
from space.errors import SearchSpaceError
from space.presets import search_space
from space.probes import head_probe, is_probe, layer_probes, space_probes
from space.profiler import profile_arch
from space.references import reference_arch, reference_names
from space.shapes import plan_layers
from tests.space_tests.strategies import free_archs


def _check_probes_cost_what_their_layers_cost(arch: Arch) -> None:
    probes = layer_probes(arch)
    layers = plan_layers(arch)
    assert len(probes) == len(layers) + 1
    assert all(is_probe(probe) for probe in probes)
    assert not is_probe(arch)
    costs = profile_arch(arch).layers
    for layer, probe, cost in zip(layers, probes, costs, strict=False):
        timed = plan_layers(probe)[-1]  # a pooling layer's probe has an identity stem first
        assert (timed.in_channels, timed.out_channels) == (layer.in_channels, layer.out_channels)
        assert (timed.in_size, timed.out_size, timed.residual) == (
            layer.in_size,
            layer.out_size,
            layer.residual,
        )
        assert profile_arch(probe).layers[len(probe.layers) - 1].macs == cost.macs
    # the head probe differs only in classifying into one output instead of num_classes
    last = layers[-1]
    features = head_probe(arch).head.channels or last.out_channels
    per_output = features * (last.out_size**2 if arch.head.conv_classifier else 1)
    head_macs = profile_arch(probes[-1]).layers[-1].macs
    assert costs[-1].macs - head_macs == per_output * (arch.num_classes - 1)


@pytest.mark.parametrize("name", reference_names())
def test_every_reference_layer_has_a_probe_costing_the_same(name: str) -> None:
    _check_probes_cost_what_their_layers_cost(reference_arch(name))


@settings(max_examples=40, deadline=None)
@given(free_archs())
def test_any_valid_network_splits_into_probes_costing_the_same(arch: Arch) -> None:
    _check_probes_cost_what_their_layers_cost(arch)


def test_the_same_layer_in_two_networks_is_one_probe() -> None:
    space = search_space("mnasnet").with_task(resolution=64, in_channels=3, num_classes=10)
    first, second = (space.decode(space.sample(random.Random(s))) for s in (1, 2))
    shared = {p.hash for p in layer_probes(first)} & {p.hash for p in layer_probes(second)}
    assert layer_probes(first)[0].hash in shared  # both start with the same stem


def test_space_probes_cover_every_sampled_network() -> None:
    space = search_space("mixed").with_task(resolution=32, in_channels=1, num_classes=10)
    probes = {probe.hash for probe in space_probes(space, limit=5000)}
    rng = random.Random(7)
    for _ in range(200):
        arch = space.decode(space.sample(rng))
        assert {probe.hash for probe in layer_probes(arch)} <= probes


def test_a_space_with_more_layers_than_allowed_is_refused() -> None:
    space = search_space("mixed").with_task(resolution=32, in_channels=1, num_classes=10)
    with pytest.raises(SearchSpaceError, match="more than 10 distinct layers"):
        space_probes(space, limit=10)
