"""A running trial reached from another process (a Ray worker): reports and the pruner's
verdict through Optuna's public storage API, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import optuna

from search.objectives import MnasReward
from search.study import RunningTrial, SearchSettings, create_study
from tests.search_tests.test_engine import TINY_SPACE

optuna.logging.set_verbosity(optuna.logging.WARNING)
SETTINGS = SearchSettings(
    space=TINY_SPACE,
    devices=("cpu",),
    mode="mnas",
    reward=MnasReward({"cpu": 1.0}),
    strategy="random",
    pruner="median",
)


def test_a_running_trial_stores_its_reports_and_gets_the_pruners_verdict(tmp_path: Path) -> None:
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'studies.db'}")
    study = create_study(SETTINGS, storage=storage, name="job")
    for reward in (0.80, 0.85, 0.90):  # the median pruner starts after three trials
        finished = study.ask()
        finished.report(reward, 0)
        study.tell(finished, reward)
    poor, good = study.ask(), study.ask()
    elsewhere = RunningTrial.load(SETTINGS, storage, "job", poor.number)
    elsewhere.report(0.10, 0)
    assert elsewhere.should_prune()
    other = RunningTrial.load(SETTINGS, storage, "job", good.number)
    other.report(0.95, 0)
    assert not other.should_prune()
    reloaded = optuna.load_study(study_name="job", storage=storage)
    stored = {t.number: t.intermediate_values for t in reloaded.get_trials()}
    assert stored[poor.number] == {0: 0.10} and stored[good.number] == {0: 0.95}
