"""A trained network's weights as safetensors: a plain table of tensors that loads without
running code (a pickle would run whatever it holds)."""

from __future__ import annotations

from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from space import Arch
from space.builder import build_model


def weights_bytes(model: nn.Module, metadata: dict[str, str]) -> bytes:
    """The model's state (parameters and BatchNorm statistics) as one safetensors file;
    ``metadata`` travels in its header (the architecture, the input normalisation)."""
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    return save_tensors(state, metadata=metadata)


def load_weights(arch: Arch, data: bytes) -> nn.Module:
    """``arch`` built and loaded with the weights in ``data``, in eval mode."""
    model = build_model(arch)
    model.load_state_dict(load_tensors(data))
    return model.eval()
