"""Zero-cost proxies: a score for an untrained network from one minibatch, in about a second.

Used to rank or pre-screen candidates before proxy training. All three are computed on the
network exactly as ``space`` builds it (same seed, same initialisation as training):

- ``naswot`` (Mellor et al. 2021): how differently the ReLU units carve up a minibatch:
  log-determinant of the kernel of agreements between the samples' binary activation codes.
- ``grad_norm`` (Abdelfattah et al. 2021): sum of the parameters' gradient norms after one
  cross-entropy backward pass.
- ``synflow`` (Tanaka et al. 2020): data-free sum of ``|theta * dR/dtheta|`` where ``R`` is the
  sum of the output of the network with absolute weights on an all-ones input (float64, BN in
  eval mode, so nothing depends on the data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from space import Arch
from space.builder import build_model

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish)


@torch.no_grad()
def naswot(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    codes: list[torch.Tensor] = []
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out: codes.append((out.detach() > 0).flatten(1).double())
        )
        for module in model.modules()
        if isinstance(module, ACTIVATIONS)
    ]
    try:
        model.train()  # batch statistics: an untrained network's running stats mean nothing
        model(images)
    finally:
        for hook in hooks:
            hook.remove()
    if not codes:
        return 0.0
    code = torch.cat(codes, dim=1)
    kernel = code @ code.T + (1 - code) @ (1 - code).T
    return float(torch.slogdet(kernel)[1])


def grad_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.train()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    with torch.no_grad():
        return float(sum(p.grad.norm() for p in model.parameters() if p.grad is not None))


def synflow(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model = model.double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    model.zero_grad(set_to_none=True)
    ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64)
    model(ones).sum().backward()
    with torch.no_grad():
        return float(
            sum((p * p.grad).abs().sum() for p in model.parameters() if p.grad is not None)
        )


ProxyName = Literal["naswot", "grad_norm", "synflow"]
Preference = Literal["high", "low"]
PROXIES: dict[ProxyName, Callable[[nn.Module, torch.Tensor, torch.Tensor], float]] = {
    "naswot": naswot,
    "grad_norm": grad_norm,
    "synflow": synflow,
}
# Which end of each score a screen keeps by default. Measured on mnist5k with the mnasnet space
# (benchmarks/multi_fidelity.py, 30 trained networks): grad_norm ranks accuracy *inversely*
# (Spearman -0.78: networks with exploding initial gradients, deep stacks without skips, train
# worst in a short proxy); naswot (+0.11) and synflow (-0.06) hardly rank it at all, so they
# keep their papers' direction. Other data may differ: run the benchmark on it.
PREFERRED: dict[ProxyName, Preference] = {
    "naswot": "high",
    "grad_norm": "low",
    "synflow": "high",
}


def zero_cost_score(
    name: ProxyName, arch: Arch, images: torch.Tensor, labels: torch.Tensor, seed: int = 0
) -> float:
    """Score ``arch`` (freshly built with ``seed``) on one minibatch; higher is better."""
    if name not in PROXIES:
        raise ValueError(f"unknown zero-cost proxy {name!r}; choose one of {sorted(PROXIES)}")
    return PROXIES[name](build_model(arch, seed=seed), images, labels)
