"""Deep Compression: the Huffman-coded network decodes back to exactly the shared weights,
sizes come from the encoded streams, and each stage does what it says."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from artifacts.compression import (
    MAX_GAP,
    CompressionSettings,
    compress,
    compressible,
    decode_layer,
    huffman_decode,
    huffman_encode,
    layer_code,
)
from artifacts.training import FinalRecipe, train_final
from search.data import load_dataset
from search.train import to_tensor
from tests.artifacts_tests.test_final_training import TINY, Store

RECIPE = FinalRecipe(epochs=2, batch_size=32, learning_rate=0.2)


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=400))
def test_huffman_decodes_what_it_encoded(symbols: list[int]) -> None:
    stream = huffman_encode(symbols)
    assert huffman_decode(stream) == symbols
    assert len(stream.bits) <= len(symbols)  # never more than a byte a symbol here


def test_huffman_gives_frequent_symbols_short_codes() -> None:
    skewed = [0] * 900 + list(range(1, 101))
    assert len(huffman_encode(skewed).bits) < len(skewed) * 2 / 8  # under 2 bits a symbol


def test_a_sparse_layer_with_long_gaps_round_trips_through_fillers() -> None:
    weight = torch.zeros(4, 300)
    weight[0, 3], weight[2, 250], weight[3, 299] = 0.5, -0.25, 0.5  # gaps over MAX_GAP
    code = layer_code(weight, bits=2)
    assert max(code.gaps) == MAX_GAP and 4 in code.symbols  # fillers (symbol 2**bits)
    assert torch.equal(decode_layer(code, bits=2), weight)
    unshared = layer_code(weight, bits=None)
    assert torch.equal(decode_layer(unshared, bits=None), weight)


@pytest.fixture(scope="module")
def stages() -> list:
    usable, _ = load_dataset("mnist5k").test_split()
    train = usable.subset(2000, seed=0)
    trained = train_final(TINY, train, RECIPE, Store())
    norm = trained.normalisation
    images = to_tensor(train, TINY.resolution, norm.mean, norm.std)
    settings = CompressionSettings(prune=0.6, share_bits=4, huffman=True, finetune_epochs=1)
    return compress(trained.model, images, torch.from_numpy(train.labels), settings, RECIPE)


def test_each_stage_shrinks_the_network(stages: list) -> None:
    assert [s.name for s in stages] == ["dense", "pruned", "shared", "huffman"]
    sizes = [s.bytes for s in stages]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0] / 5


def test_pruning_zeroes_the_share_asked_for(stages: list) -> None:
    weights = torch.cat([layer.weight.flatten() for layer in compressible(stages[1].model)])
    assert (weights == 0).float().mean().item() == pytest.approx(0.6, abs=0.01)


def test_sharing_leaves_at_most_2_to_the_bits_values_per_layer(stages: list) -> None:
    for layer in compressible(stages[2].model):
        values = layer.weight[layer.weight != 0].unique()
        assert len(values) <= 16


def test_the_huffman_coded_network_decodes_to_the_shared_weights(stages: list) -> None:
    shared, decoded = stages[2].model, stages[3].model
    for a, b in zip(compressible(shared), compressible(decoded), strict=True):
        assert torch.equal(a.weight, b.weight)
        assert a.weight is not b.weight  # decoded into another network


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="prune"):
        CompressionSettings(prune=0.99)
    with pytest.raises(ValueError, match="share_bits"):
        CompressionSettings(share_bits=None, huffman=True)
