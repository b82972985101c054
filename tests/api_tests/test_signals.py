"""Held requests (``api.server.signals.QueueSignal``): woken by news, and a wait that ends
without news costs no last query."""

from __future__ import annotations

import asyncio

from api.server.signals import QueueSignal


def test_a_wait_without_news_ends_with_the_last_answer_and_no_further_check() -> None:
    signal = QueueSignal()
    checks: list[str] = []

    async def check() -> str:
        checks.append("pending")
        return "pending"

    answer = asyncio.run(signal.wait_for(check, lambda seen: seen == "done", 0.05, fallback=60))
    assert answer == "pending" and len(checks) == 1


def test_news_wakes_the_wait_which_checks_again_at_once() -> None:
    signal = QueueSignal()
    answers = ["pending", "done"]
    checks: list[str] = []

    async def check() -> str:
        checks.append(answers[len(checks)])
        if len(checks) == 1:
            signal.notify()  # the task finished while the first check ran
        return checks[-1]

    answer = asyncio.run(signal.wait_for(check, lambda seen: seen == "done", 60, fallback=60))
    assert answer == "done" and checks == ["pending", "done"]
