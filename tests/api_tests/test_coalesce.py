"""Shared lookups (``api.server.coalesce``) on a real SQLite database: a herd of requests
costs one query, nothing is cached, and a failed query fails only the requests it served."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from api.server.coalesce import Coalescer
from api.server.database import upgrade_database
from api.server.keys import callers_of_keys, create_api_key, revoke_api_key
from api.server.tables import ApiKey
from api.server.users import create_user
from edgenas.callers import Caller
from latency.database import create_db_engine
from latency.devices import hash_token


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'edgenas.db'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


def make_keys(engine: Engine, count: int) -> list[str]:
    with sessionmaker(engine).begin() as session:
        user = create_user(session, "alice")
        session.flush()
        return [create_api_key(session, user) for _ in range(count)]


class Recorded:
    """``callers_of_keys`` that notes the keys of each query."""

    def __init__(self) -> None:
        self.queries: list[set[str]] = []

    def __call__(self, connection: Connection, key_hashes: Collection[str]) -> dict[str, Caller]:
        self.queries.append(set(key_hashes))
        return callers_of_keys(connection, key_hashes)


def test_a_herd_of_lookups_costs_one_query_and_each_gets_its_own_answer(engine: Engine) -> None:
    valid, revoked = make_keys(engine, 2)
    with sessionmaker(engine).begin() as session:
        key_id = session.query(ApiKey.id).filter_by(key_hash=hash_token(revoked)).scalar()
        assert revoke_api_key(session, key_id)
    read = Recorded()
    lookups = Coalescer(engine, read)
    asked = [valid, revoked, "ekey_unknown"] * 40

    async def herd() -> list[Caller | None]:
        return await asyncio.gather(*(lookups.get(hash_token(key)) for key in asked))

    answers = asyncio.run(herd())
    assert len(read.queries) == 1 and len(read.queries[0]) == 3
    assert [a.name if a else None for a in answers[:3]] == ["alice", None, None]
    assert answers == answers[:3] * 40


def test_nothing_is_cached_a_revoked_key_is_refused_by_the_next_lookup(engine: Engine) -> None:
    (key,) = make_keys(engine, 1)
    lookups = Coalescer(engine, callers_of_keys)
    assert asyncio.run(lookups.get(hash_token(key))) is not None
    with sessionmaker(engine).begin() as session:
        key_id = session.query(ApiKey.id).filter_by(key_hash=hash_token(key)).scalar()
        revoke_api_key(session, key_id)
    assert asyncio.run(lookups.get(hash_token(key))) is None


def test_lookups_asked_while_a_query_runs_share_the_next_query(engine: Engine) -> None:
    keys = make_keys(engine, 4)
    started, release = threading.Event(), threading.Event()
    read = Recorded()

    def slow_first(connection: Connection, key_hashes: Collection[str]) -> dict[str, Caller]:
        if not read.queries:
            started.set()
            release.wait(timeout=30)
        return read(connection, key_hashes)

    lookups = Coalescer(engine, slow_first)

    async def scenario() -> list[Caller | None]:
        first = asyncio.ensure_future(lookups.get(hash_token(keys[0])))
        await asyncio.to_thread(started.wait, 30)  # the first query is running
        # scheduled now, so they ask before the loop hears that the running query returned
        later = [asyncio.ensure_future(lookups.get(hash_token(key))) for key in keys[1:]]
        release.set()
        return await asyncio.gather(first, *later)

    answers = asyncio.run(scenario())
    assert all(answer is not None and answer.name == "alice" for answer in answers)
    assert [len(keys) for keys in read.queries] == [1, 3]


def test_a_failed_query_fails_its_lookups_and_the_next_lookup_is_answered(
    engine: Engine,
) -> None:
    (key,) = make_keys(engine, 1)
    failures = [OperationalError("SELECT", {}, Exception("database restarting"))]

    def flaky(connection: Connection, key_hashes: Collection[str]) -> dict[str, Caller]:
        if failures:
            raise failures.pop()
        return callers_of_keys(connection, key_hashes)

    lookups = Coalescer(engine, flaky)

    async def two_fail() -> list[BaseException | Caller | None]:
        return await asyncio.gather(
            *(lookups.get(hash_token(key)) for _ in range(2)), return_exceptions=True
        )

    assert all(isinstance(answer, OperationalError) for answer in asyncio.run(two_fail()))
    answer = asyncio.run(lookups.get(hash_token(key)))
    assert answer is not None and answer.name == "alice"
