"""A blocking call with a deadline, for calls that may hang for ever (a keyring waiting
on an unlock dialog nobody sees, a GUI call while the window closes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Outcome(Generic[T]):
    """What a call made on another thread returned or raised, once it is done."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self, fn: Callable[[], T]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the waiting caller
            self._error = exc
        finally:
            self._done.set()

    def wait(self, timeout: float, silence: str) -> T:
        """The call's value or exception; ``TimeoutError("<silence> within N s")`` if it
        has not finished in ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"{silence} within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` on a daemon thread; raise TimeoutError if it has not returned in time,
    else return its value or raise its exception.

    A daemon thread, not an executor: a call that never returns must not keep the process
    from exiting.
    """
    outcome: Outcome[T] = Outcome()
    threading.Thread(
        target=outcome.run, args=(fn,), name="possync-timeout-call", daemon=True
    ).start()
    return outcome.wait(timeout, "no answer")
