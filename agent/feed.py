"""Committed log entries, fanned out in commit order to whoever listens (pages, peers)."""

from __future__ import annotations

import asyncio

from agent.store import Entry


class Subscription:
    """One listener's queue of entry batches.

    A listener that falls `limit` batches behind is cut off (it gets None) instead of
    holding memory without bound; a page then reconnects and asks for what it missed.
    """

    def __init__(self, limit: int) -> None:
        self.queue: asyncio.Queue[list[Entry] | None] = asyncio.Queue()
        self.limit = limit
        self.overflowed = False

    def offer(self, entries: list[Entry]) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(entries)

    async def get(self) -> list[Entry] | None:
        return await self.queue.get()


class Feed:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, limit: int = 10_000) -> Subscription:
        subscription = Subscription(limit)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, entries: list[Entry]) -> None:
        if entries:
            for subscription in list(self._subscriptions):
                subscription.offer(entries)
