"""Optuna's RDB storage on the server's database: where every job's study lives."""

from __future__ import annotations

from functools import lru_cache

import optuna


@lru_cache(maxsize=8)
def study_storage(database_url: str) -> optuna.storages.RDBStorage:
    """One storage per database and process. On SQLite, writers wait for each other (30 s)
    instead of failing with 'database is locked': the runner and its evaluations share it."""
    options = {"connect_args": {"timeout": 30}} if database_url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(database_url, engine_kwargs=options)
