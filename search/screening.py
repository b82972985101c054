"""The zero-cost screen of a search: score each candidate before anything is spent on it and,
in ``prescreen`` mode, skip those outside the best ``keep`` share of the scores seen so far.
Which end of a score is best depends on the proxy (``search.zero_cost.PREFERRED``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import optuna

from search.data import ImageDataset
from search.train import score_batch
from search.trial_record import TrialAttrs
from search.zero_cost import PREFERRED, PROXIES, Preference, ProxyName, zero_cost_score
from space import Arch

ScreenAction = Literal["rank", "prescreen"]


@dataclass(frozen=True)
class ZeroCostScreen:
    """Score candidates with a zero-cost proxy before training (see the module docstring)."""

    proxy: ProxyName = "grad_norm"
    action: ScreenAction = "prescreen"
    prefer: Preference | None = None  # None: search.zero_cost.PREFERRED
    keep: float = 0.5
    warmup: int = 8  # prescreen: candidates scored before the first one is skipped

    def __post_init__(self) -> None:
        if self.proxy not in PROXIES:
            raise ValueError(f"zero-cost proxy {self.proxy!r}: choose one of {sorted(PROXIES)}")
        if self.prefer is None:
            object.__setattr__(self, "prefer", PREFERRED[self.proxy])
        if self.prefer not in ("high", "low"):
            raise ValueError(f"zero-cost prefer {self.prefer!r}: choose 'high' or 'low'")
        if self.action not in ("rank", "prescreen"):
            raise ValueError(f"zero-cost action {self.action!r}: choose 'rank' or 'prescreen'")
        if not 0 < self.keep <= 1:
            raise ValueError(f"zero-cost keep {self.keep}: must be in (0, 1]")
        if self.warmup < 1:
            raise ValueError(f"zero-cost warmup {self.warmup}: must be at least 1")


def screen_score(
    screen: ZeroCostScreen | None, arch: Arch, train: ImageDataset, seed: int
) -> float | None:
    """The candidate's zero-cost score on a fixed minibatch of the training data."""
    if screen is None:
        return None
    images, labels = score_batch(train, arch.resolution, seed)
    return zero_cost_score(screen.proxy, arch, images, labels, seed=seed)


def screened_out(study: optuna.Study, screen: ZeroCostScreen | None, score: float) -> bool:
    """Pre-screen: skip a candidate below the best ``keep`` share of the scores seen so far."""
    if screen is None or screen.action != "prescreen":
        return False
    finished = (t for t in study.get_trials(deepcopy=False) if t.state.is_finished())
    seen = [score for score in (TrialAttrs.of(t).zero_cost for t in finished) if score is not None]
    if len(seen) < screen.warmup:
        return False
    if screen.prefer == "low":
        return score > float(np.quantile(seen, screen.keep))
    return score < float(np.quantile(seen, 1 - screen.keep))
