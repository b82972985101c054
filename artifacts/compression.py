"""Deep Compression (Han et al., 2016) of a trained network: magnitude pruning with
fine-tuning, k-means weight sharing, Huffman coding. A size result: ONNX Runtime runs a
pruned or weight-shared network no faster than the dense one (its kernels are dense), so the
report gives accuracy after each stage and the bytes of the actual encoded streams.

What is compressed: the weights of every convolution and linear layer. Everything else
(biases, BatchNorm parameters and statistics) is counted as float32, as stored.

The encoding of one layer (Deep Compression's relative sparse indexing): its nonzero weights
in order, each an entry (gap since the previous nonzero, symbol). A gap over ``MAX_GAP`` is
bridged by filler entries (gap ``MAX_GAP``, symbol ``FILLER``) that hold no weight. Before
Huffman coding, gaps take 8 bits and symbols ``share_bits`` + 1 bits (a float32 each when
weights are not shared); Huffman coding gives gaps and symbols each one canonical code for
the whole network, stored as its code-length counts and symbol order.
"""

from __future__ import annotations

import collections
import copy
import itertools
from dataclasses import dataclass, field

import numpy as np
import torch
from bitarray import bitarray
from bitarray.util import canonical_decode, canonical_huffman
from sklearn.cluster import KMeans
from torch import nn
from torch.nn.utils import prune

from artifacts.training import FinalRecipe, optimizer_for, settle_batchnorm, train_epoch

MAX_GAP = 255  # 8-bit relative indices (Deep Compression used 8 bits for conv layers)
FLOAT_BYTES = 4


@dataclass(frozen=True)
class CompressionSettings:
    prune: float = 0.5  # the share of weights set to zero, smallest magnitudes first
    share_bits: int | None = 5  # 2**b centroids per layer; None: no sharing
    huffman: bool = True
    finetune_epochs: int = 3  # after pruning, at a tenth of the learning rate, masks kept

    def __post_init__(self) -> None:
        if not 0 <= self.prune <= 0.95:
            raise ValueError(f"prune={self.prune}: between 0 and 0.95")
        if self.share_bits is not None and not 1 <= self.share_bits <= 8:
            raise ValueError(f"share_bits={self.share_bits}: between 1 and 8")
        if self.huffman and self.share_bits is None:
            raise ValueError("huffman codes the shared weights' symbols: give share_bits")


@dataclass(frozen=True)
class Stage:
    name: str  # dense, pruned, shared, huffman
    model: nn.Module  # the weights this stage keeps (Huffman: as decoded)
    bytes: int  # the encoded size of the whole network


@dataclass
class LayerCode:
    """One layer as entries (gap, symbol) and its codebook (``None``: float32 values)."""

    shape: tuple[int, ...]
    gaps: list[int]
    symbols: list[int]  # centroid indices, FILLER for a filler entry
    centroids: np.ndarray | None
    values: list[float] = field(default_factory=list)  # without sharing: the nonzero values


Layer = nn.Conv2d | nn.Linear


def compressible(model: nn.Module) -> list[Layer]:
    """The layers whose weights are compressed."""
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def prune_and_finetune(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: CompressionSettings,
    recipe: FinalRecipe,
) -> nn.Module:
    """A copy of ``model`` with the smallest ``settings.prune`` of its weights (over all
    layers at once) zeroed, fine-tuned with the zeros held."""
    # global pruning flattens the weights with view(): they must be contiguous, not NHWC
    pruned = copy.deepcopy(model).to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    layers = [(m, "weight") for m in compressible(pruned)]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=settings.prune)
    epochs = settings.finetune_epochs
    if epochs:
        rate = recipe.learning_rate / 10
        optimizer = optimizer_for(pruned, recipe, rate)
        steps = -(-len(labels) // recipe.batch_size) * epochs
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        generator = torch.Generator().manual_seed(recipe.seed + 1)
        for _ in range(epochs):
            train_epoch(pruned, images, labels, optimizer, scheduler, recipe, generator)
    for module, name in layers:
        prune.remove(module, name)
    settle_batchnorm(pruned, images, recipe.batch_size)
    return pruned


def share_weights(model: nn.Module, bits: int, images: torch.Tensor, batch: int) -> nn.Module:
    """A copy with each layer's nonzero weights replaced by the nearest of 2**bits centroids
    (k-means, linear initialisation as in Deep Compression); zeros stay zero."""
    shared = copy.deepcopy(model)
    for layer in compressible(shared):
        weight = layer.weight.detach()
        nonzero = weight != 0
        values = weight[nonzero].double().numpy()
        if values.size == 0:
            continue
        k = min(2**bits, len(np.unique(values)))
        start = np.linspace(values.min(), values.max(), k).reshape(-1, 1)
        means = KMeans(n_clusters=k, init=start, n_init=1, random_state=0)
        nearest = means.fit_predict(values.reshape(-1, 1))
        centroids = means.cluster_centers_.ravel().astype(np.float32)
        with torch.no_grad():
            layer.weight[nonzero] = torch.from_numpy(centroids[nearest])
    settle_batchnorm(shared, images, batch)
    return shared


def layer_code(weight: torch.Tensor, bits: int | None) -> LayerCode:
    """``weight`` as entries; with ``bits``, its values must be at most 2**bits distinct."""
    flat = weight.detach().flatten().numpy()
    positions = np.flatnonzero(flat)
    centroids = np.unique(flat[positions]) if bits is not None else None
    filler = 2**bits if bits is not None else -1
    code = LayerCode(tuple(weight.shape), [], [], centroids)
    previous = -1
    for position in positions:
        gap = int(position - previous)
        while gap > MAX_GAP:
            code.gaps.append(MAX_GAP)
            code.symbols.append(filler)
            gap -= MAX_GAP
        code.gaps.append(gap)
        if centroids is None:
            code.symbols.append(0)
            code.values.append(float(flat[position]))
        else:
            code.symbols.append(int(np.searchsorted(centroids, flat[position])))
        previous = int(position)
    return code


def decode_layer(code: LayerCode, bits: int | None) -> torch.Tensor:
    """The weight tensor ``code`` stands for."""
    flat = np.zeros(int(np.prod(code.shape)), dtype=np.float32)
    filler = 2**bits if bits is not None else -1
    position, values = -1, iter(code.values)
    for gap, symbol in zip(code.gaps, code.symbols, strict=True):
        position += gap
        if symbol == filler:
            continue
        flat[position] = next(values) if code.centroids is None else code.centroids[symbol]
    return torch.from_numpy(flat.reshape(code.shape))


@dataclass(frozen=True)
class HuffmanStream:
    """A sequence coded with one canonical Huffman code: the bits, the code-length counts and
    the symbols in code order (what a decoder needs), and how many symbols there are."""

    bits: bytes
    counts: list[int]
    order: list[int]
    length: int

    def size(self) -> int:
        """Bytes of the stream and its table (a byte per count, 2 per symbol)."""
        return len(self.bits) + len(self.counts) + 2 * len(self.order)


def huffman_encode(symbols: list[int]) -> HuffmanStream:
    frequencies = collections.Counter(symbols)
    if len(frequencies) == 1:  # a one-symbol alphabet needs a code of one bit
        frequencies[max(frequencies) + 1] = 0
    code, counts, order = canonical_huffman(frequencies)
    stream = bitarray()
    stream.encode(code, symbols)
    return HuffmanStream(stream.tobytes(), list(counts), list(order), len(symbols))


def huffman_decode(stream: HuffmanStream) -> list[int]:
    bits = bitarray()
    bits.frombytes(stream.bits)
    decoded = canonical_decode(bits, stream.counts, stream.order)
    return list(itertools.islice(decoded, stream.length))  # the padding of the last byte: not read


def other_bytes(model: nn.Module) -> int:
    """float32 bytes of everything that is not a compressed layer's weight."""
    kept = {id(layer.weight) for layer in compressible(model)}
    tensors = [*model.parameters(), *model.buffers()]
    return sum(
        t.numel() * FLOAT_BYTES for t in tensors if id(t) not in kept and t.is_floating_point()
    )


def fixed_width_bytes(codes: list[LayerCode], bits: int | None) -> int:
    """Entries at fixed widths: 8-bit gaps, then (bits + 1)-bit symbols and a float32
    codebook per layer, or float32 values."""
    entries = sum(len(c.gaps) for c in codes)
    if bits is None:
        return entries + sum(len(c.values) for c in codes) * FLOAT_BYTES
    symbol_bits = entries * (bits + 1)
    codebooks = sum(len(c.centroids) for c in codes if c.centroids is not None) * FLOAT_BYTES
    return entries + -(-symbol_bits // 8) + codebooks


def huffman_bytes(codes: list[LayerCode]) -> int:
    """Bytes of the network's gaps and symbols each Huffman-coded, and the codebooks."""
    gaps = huffman_encode([g for c in codes for g in c.gaps])
    symbols = huffman_encode([s for c in codes for s in c.symbols])
    codebooks = sum(len(c.centroids) for c in codes if c.centroids is not None) * FLOAT_BYTES
    return gaps.size() + symbols.size() + codebooks


def compress(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: CompressionSettings,
    recipe: FinalRecipe,
) -> list[Stage]:
    """The stages of Deep Compression asked for, each with its model and encoded size."""
    batch = recipe.batch_size
    dense = sum(layer.weight.numel() for layer in compressible(model)) * FLOAT_BYTES
    stages = [Stage("dense", model, dense + other_bytes(model))]  # plain float32 arrays
    current = model
    if settings.prune > 0:
        current = prune_and_finetune(current, images, labels, settings, recipe)
        stages.append(Stage("pruned", current, encoded_size(current, None, huffman=False)))
    if settings.share_bits is not None:
        bits = settings.share_bits
        current = share_weights(current, bits, images, batch)
        stages.append(Stage("shared", current, encoded_size(current, bits, huffman=False)))
        if settings.huffman:
            decoded = round_trip(current, bits)
            stages.append(Stage("huffman", decoded, encoded_size(current, bits, huffman=True)))
    return stages


def encoded_size(model: nn.Module, bits: int | None, *, huffman: bool) -> int:
    codes = [layer_code(layer.weight, bits) for layer in compressible(model)]
    size = huffman_bytes(codes) if huffman else fixed_width_bytes(codes, bits)
    return size + other_bytes(model)


def round_trip(model: nn.Module, bits: int) -> nn.Module:
    """``model`` with every compressed layer's weights Huffman-coded and decoded back: the
    network a receiver of the coded file would run."""
    decoded = copy.deepcopy(model)
    layers = compressible(decoded)
    codes = [layer_code(layer.weight, bits) for layer in layers]
    gaps = huffman_decode(huffman_encode([g for c in codes for g in c.gaps]))
    symbols = huffman_decode(huffman_encode([s for c in codes for s in c.symbols]))
    start = 0
    for layer, code in zip(layers, codes, strict=True):
        end = start + len(code.gaps)
        received = LayerCode(code.shape, gaps[start:end], symbols[start:end], code.centroids)
        with torch.no_grad():
            layer.weight.copy_(decode_layer(received, bits))
        start = end
    return decoded
