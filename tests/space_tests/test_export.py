"""ONNX export: checked by onnx, identical to PyTorch under ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings

from space import Arch
from space.builder import build_model
from space.export import export_onnx, export_onnx_bytes
from space.references import reference_arch
from tests.space_tests.strategies import free_archs, space_archs


def _max_abs_diff(arch: Arch, data: bytes) -> float:
    model = build_model(arch).eval()
    x = (
        np.random.default_rng(0)
        .standard_normal((1, arch.in_channels, arch.resolution, arch.resolution))
        .astype(np.float32)
    )
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"input": x})
    with torch.no_grad():
        torch_out = model(torch.from_numpy(x)).numpy()
    return float(np.abs(onnx_out - torch_out).max())


@settings(max_examples=12, deadline=None)
@given(space_archs())
def test_space_members_export_with_parity(arch: Arch) -> None:
    assert _max_abs_diff(arch, export_onnx_bytes(arch)) < 1e-4


@settings(max_examples=15, deadline=None)
@given(free_archs())
def test_every_block_kind_exports_with_parity(arch: Arch) -> None:
    assert _max_abs_diff(arch, export_onnx_bytes(arch)) < 1e-4


@pytest.mark.parametrize("name", ["shufflenet_v1_g3", "squeezenet1_0", "mnasnet_a1"])
def test_reference_networks_export_with_parity(name: str) -> None:
    arch = reference_arch(name)
    assert _max_abs_diff(arch, export_onnx_bytes(arch)) < 1e-4


def test_dynamo_exporter_agrees_with_the_default() -> None:
    arch = reference_arch("fbnet:" + ",".join(["k3_e3", "skip"] * 11))
    assert _max_abs_diff(arch, export_onnx_bytes(arch, exporter="dynamo")) < 1e-4


def test_export_writes_a_checked_file_with_the_declared_shape(tmp_path) -> None:
    arch = reference_arch("fbnet:" + ",".join(["k3_e1_g2", "skip"] * 11))
    path = export_onnx(arch, tmp_path / "model.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 32, 32]
