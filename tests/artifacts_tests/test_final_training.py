"""The final training and its files, on real digits: resuming from a checkpoint gives the
run an uninterrupted one gives; shifts move images; int8 keeps a trained network's accuracy
and is QDQ per channel; weights round-trip through safetensors."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch

from artifacts.package import package, prepared
from artifacts.training import Checkpoint, FinalRecipe, augment, train_final
from artifacts.weights import load_weights
from search.data import ImageDataset, load_dataset
from space import parse_arch

TINY = parse_arch("r28_w1.0_i1_n10:conv_k3_c16_s2|conv_k3_c32_s2|conv_k3_c48_s2|head")
RECIPE = FinalRecipe(epochs=3, batch_size=32, learning_rate=0.2)


class Store:
    """Checkpoints in memory; ``crash_after`` makes saving that epoch's raise (a dying
    worker), after it was kept."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.saved: list[Checkpoint] = []
        self.crash_after = crash_after

    def newest(self) -> Checkpoint | None:
        return self.saved[-1] if self.saved else None

    def save(self, checkpoint: Checkpoint) -> None:
        self.saved.append(checkpoint)
        if checkpoint.epoch == self.crash_after:
            raise KeyboardInterrupt("the worker dies")


@pytest.fixture(scope="module")
def digits() -> tuple[ImageDataset, ImageDataset]:
    usable, test = load_dataset("mnist5k").test_split()
    return usable.subset(2000, seed=0), test.subset(200, seed=0)


def test_a_resumed_training_ends_where_an_uninterrupted_one_does(digits) -> None:
    train, _ = digits
    straight = train_final(TINY, train, RECIPE, Store())
    interrupted = Store(crash_after=2)
    with pytest.raises(KeyboardInterrupt):
        train_final(TINY, train, RECIPE, interrupted)
    interrupted.crash_after = None
    resumed = train_final(TINY, train, RECIPE, interrupted)
    assert resumed.resumed_from == 2 and straight.resumed_from == 0
    assert [c.epoch for c in interrupted.saved] == [1, 2, 3]
    assert resumed.train_accuracy == straight.train_accuracy
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_finished_training_resumed_trains_no_more(digits) -> None:
    train, _ = digits
    store = Store()
    first = train_final(TINY, train, RECIPE, store)
    again = train_final(TINY, train, RECIPE, store)
    assert again.resumed_from == RECIPE.epochs and len(store.saved) == RECIPE.epochs
    assert again.train_accuracy == first.train_accuracy


def test_shifts_move_each_image_by_at_most_two_pixels() -> None:
    images = torch.zeros(64, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0  # one bright pixel in the middle
    moved = augment(images, ("shift",), torch.Generator().manual_seed(0))
    assert moved.shape == images.shape
    rows, cols = (moved[:, 0] == 1.0).nonzero()[:, 1:].T
    assert len(rows) == 64  # the pixel survives in every image
    assert (rows - 4).abs().max() <= 2 and (cols - 4).abs().max() <= 2
    assert len({(int(r), int(c)) for r, c in zip(rows, cols, strict=True)}) > 5


def test_the_files_score_alike_and_int8_is_qdq_per_channel(digits) -> None:
    train, test = digits
    trained = train_final(TINY, train, RECIPE, Store())
    made = package(TINY, trained, train, test, seed=0)
    assert made.fp32_accuracy > 0.6  # chance is 0.1
    assert abs(made.int8_accuracy - made.fp32_accuracy) <= 0.03
    assert len(made.int8) < len(made.fp32) / 2  # 8-bit weights
    graph = onnx.load_model(io.BytesIO(made.int8)).graph
    kinds = [node.op_type for node in graph.node]
    assert "QuantizeLinear" in kinds and "DequantizeLinear" in kinds
    initializers = {init.name: init for init in graph.initializer}
    per_channel = [
        n
        for n in graph.node
        if n.op_type == "DequantizeLinear" and len(initializers.get(n.input[1], []).dims or []) == 1
    ]
    assert per_channel  # a scale per output channel, not one per tensor

    loaded = load_weights(TINY, made.weights)
    images = torch.from_numpy(prepared(test, TINY, trained.normalisation))
    with torch.no_grad():
        ours = trained.model(images).argmax(1)
        theirs = loaded(images).argmax(1)
    assert torch.equal(ours, theirs)
    assert np.isclose((ours.numpy() == test.labels).mean(), made.fp32_accuracy, atol=0.01)
