"""A blocking call with a deadline, for calls that may hang for ever (a keyring waiting
on an unlock dialog nobody sees, a GUI call while the window closes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` on a daemon thread; raise TimeoutError if it has not returned in time,
    else return its value or raise its exception.

    A daemon thread, not an executor: a call that never returns must not keep the process
    from exiting.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        done.set()

    threading.Thread(target=run, name="possync-timeout-call", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
