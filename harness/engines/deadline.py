"""Calls to an OpenAI-compatible server that end by a wall-clock deadline, whatever the server does.

A read timeout is not a deadline: a server that trickles one byte a second keeps every read alive and
holds a 3-second request for as long as it likes. Here each call is a coroutine on one private event loop
(a daemon thread), wrapped in `asyncio.wait_for`: at the deadline the coroutine is cancelled, which closes
its connection. Both the server engine and the LLM judge call through this.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The call did not finish by its deadline (and was cancelled)."""


class DeadlineLoop:
    """One event loop in a background thread; `call` and `submit` run coroutines on it under a deadline."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="harness-http", daemon=True)
        self._thread.start()

    def submit(self, make: Callable[[], Awaitable[T]], deadline_s: float) -> concurrent.futures.Future[T]:
        """Start `make()` on the loop; its future raises DeadlineExceeded if it runs past `deadline_s`."""
        async def bounded() -> T:
            try:
                return await asyncio.wait_for(make(), deadline_s)
            except asyncio.TimeoutError:
                raise DeadlineExceeded(f"no complete answer within the {deadline_s:g} s deadline") from None

        return asyncio.run_coroutine_threadsafe(bounded(), self.loop)

    def call(self, make: Callable[[], Awaitable[T]], deadline_s: float) -> T:
        return self.submit(make, deadline_s).result()

    def run(self, coroutine: Awaitable[Any]) -> Any:
        """Run a coroutine on the loop without a deadline (set-up and tear-down of clients)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()
