"""Lookups that concurrent requests share.

Every request looks up its key, and held long-polls re-check their tasks; both arrive in
herds (two hundred long-polls that time out together reconnect together). A ``Coalescer``
runs one query at a time: the keys asked for while it runs gather, and the next query
answers them all, so a herd costs two queries instead of two hundred. Nothing is cached:
every answer is read after its request asked, so a revoked key is refused at once.
(``aiodataloader`` batches per event-loop turn; a herd arrives over many turns, and its
batches would run side by side instead of gathering.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping
from itertools import chain
from typing import Generic, TypeVar

from anyio import CapacityLimiter, to_thread
from sqlalchemy import Connection, Engine

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """``get`` answers from ``read(connection, keys)``, one query at a time on a worker
    thread (of ``limiter``; default: the request threads)."""

    def __init__(
        self,
        engine: Engine,
        read: Callable[[Connection, list[K]], Mapping[K, V]],
        limiter: CapacityLimiter | None = None,
    ) -> None:
        self._engine = engine
        self._read = read
        self._limiter = limiter
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._drainer: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V | None:
        """What the database says about ``key`` now; None if it has nothing."""
        answer: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(answer)
        if self._drainer is None:
            # a task of its own: a request that goes away must not stop the others' query
            self._drainer = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    found = await to_thread.run_sync(
                        self._query, list(batch), limiter=self._limiter
                    )
                except Exception as exc:  # e.g. the database is down: each request says so
                    for answer in chain.from_iterable(batch.values()):
                        if not answer.done():  # not a request that went away
                            answer.set_exception(exc)
                    continue
                for key, answers in batch.items():
                    for answer in answers:
                        if not answer.done():
                            answer.set_result(found.get(key))
        finally:
            self._drainer = None

    def _query(self, keys: list[K]) -> Mapping[K, V]:
        with self._engine.connect() as connection:
            return self._read(connection, keys)
