"""Proxy training on real digits: it learns, it is reproducible, it stops when told."""

from __future__ import annotations

import pytest

from search.data import ImageDataset, load_dataset
from search.data_limits import DataError
from search.train import ProxySettings, evaluate_arch
from space import parse_arch

TINY = parse_arch("r28_w1.0_i1_n10:conv_k3_c16_s2|conv_k3_c32_s2|conv_k3_c48_s2|head")
FAST = ProxySettings(epochs=2, batch_size=32, train_images=2000, learning_rate=0.2)


@pytest.fixture(scope="module")
def digits() -> tuple[ImageDataset, ImageDataset]:
    train, validation = load_dataset("mnist5k").split(0.1, seed=0)
    return train, validation.subset(300, seed=0)


def test_a_small_network_learns_digits(digits) -> None:
    result = evaluate_arch(TINY, *digits, FAST)
    assert result.epochs == 2 and not result.stopped_early
    assert result.accuracy > 0.6  # chance is 0.1
    assert result.train_seconds > 0 and result.eval_seconds > 0


def test_same_seed_same_accuracies_other_seed_other_ones(digits) -> None:
    first = evaluate_arch(TINY, *digits, FAST)
    again = evaluate_arch(TINY, *digits, FAST)
    other = evaluate_arch(TINY, *digits, ProxySettings(**{**FAST.__dict__, "seed": 1}))
    assert first.epoch_accuracies == again.epoch_accuracies
    assert first.epoch_accuracies != other.epoch_accuracies


def test_the_epoch_callback_can_stop_training_early(digits) -> None:
    seen: list[tuple[int, float]] = []

    def stop_at_once(epoch: int, accuracy: float) -> bool:
        seen.append((epoch, accuracy))
        return True

    result = evaluate_arch(TINY, *digits, FAST, on_epoch=stop_at_once)
    assert result.stopped_early and result.epochs == 1
    assert seen == [(0, result.accuracy)]


def test_an_architecture_that_does_not_fit_the_data_is_refused(digits) -> None:
    rgb = parse_arch("r28_w1.0_n10:conv_k3_c8_s2|head")
    with pytest.raises(DataError, match="1-channel images"):
        evaluate_arch(rgb, *digits, FAST)
    with pytest.raises(DataError, match="10 classes"):
        evaluate_arch(parse_arch("r28_w1.0_i1_n5:conv_k3_c8_s2|head"), *digits, FAST)


def test_training_at_another_resolution_resizes_the_images(digits) -> None:
    small = parse_arch("r20_w1.0_i1_n10:conv_k3_c16_s2|conv_k3_c32_s2|conv_k3_c48_s2|head")
    assert evaluate_arch(small, *digits, FAST).accuracy > 0.5


@pytest.mark.parametrize("field", ["epochs", "learning_rate", "threads", "schedule"])
def test_out_of_range_settings_are_refused(field: str) -> None:
    bad = {"epochs": 0, "learning_rate": -1.0, "threads": 0, "schedule": "linear"}[field]
    with pytest.raises(ValueError, match=field):
        ProxySettings(**{field: bad})


def test_a_proxy_too_short_for_one_cycle_still_trains(digits) -> None:
    tiny = ProxySettings(epochs=1, batch_size=32, train_images=40, learning_rate=0.1)
    assert 0 <= evaluate_arch(TINY, *digits, tiny).accuracy <= 1
