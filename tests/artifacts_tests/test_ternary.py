"""Trained ternary quantization: every inner layer ends with three values, two of them the
layer's learned scales, and the network still classifies digits."""

from __future__ import annotations

import torch

from artifacts.compression import compressible
from artifacts.ternary import Ternary, train_ternary
from artifacts.training import FinalRecipe, train_final
from search.data import load_dataset
from search.train import accuracy, to_tensor
from space import parse_arch
from tests.artifacts_tests.test_final_training import Store

NET = parse_arch(
    "r28_w1.0_i1_n10:conv_k3_c16_s2|conv_k3_c32_s2|conv_k3_c48_s2|conv_k3_c64|head_c128"
)
RECIPE = FinalRecipe(epochs=2, batch_size=32, learning_rate=0.2)


def test_a_ternary_network_keeps_three_values_per_inner_layer_and_learns() -> None:
    usable, test = load_dataset("mnist5k").test_split()
    train = usable.subset(2000, seed=0)
    trained = train_final(NET, train, RECIPE, Store())
    norm = trained.normalisation
    images = to_tensor(train, NET.resolution, norm.mean, norm.std)
    labels = torch.from_numpy(train.labels)
    ternary = train_ternary(trained.model, images, labels, RECIPE, epochs=1)

    layers = compressible(ternary.model)
    assert ternary.ternary_layers == len(layers) - 2  # first and last stay full precision
    for layer in layers[1:-1]:
        values = layer.weight.detach().unique()
        assert len(values) <= 3 and 0.0 in values
        assert (values > 0).sum() <= 1 and (values < 0).sum() <= 1
    assert len(layers[1].weight.unique()) <= 3 < len(layers[0].weight.unique())
    dense = sum(p.numel() * 4 for p in trained.model.parameters())
    assert ternary.bytes < dense / 4
    x_test = to_tensor(test, NET.resolution, norm.mean, norm.std)
    assert accuracy(ternary.model, x_test, torch.from_numpy(test.labels), 256) > 0.5


def test_the_scales_learn_from_their_weights_gradients() -> None:
    latent = torch.tensor([0.9, -0.8, 0.01, 0.5, -0.6], requires_grad=True)
    ternary = Ternary(latent.detach())
    out = ternary(latent)
    assert torch.equal(out != 0, torch.tensor([True, True, False, True, True]))
    out.sum().backward()
    assert ternary.wp.grad is not None and ternary.wp.grad.item() == 1.0  # mean over positives
    assert ternary.wn.grad is not None and ternary.wn.grad.item() == -1.0
    assert latent.grad is not None and latent.grad[2].item() == 1.0  # zeros pass through
