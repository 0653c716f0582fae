"""Is this app current for its server? The addon's ``/info`` names the app versions it works
with (docs/protocol.md, "Versioning"): an app older than ``app_min_version`` is too old for
this server and syncs nothing with it; one older than ``app_latest_version`` is told an
update is available. The agent's status, the page's indicator and `possync doctor` show
`check`'s verdict; versions compare as PEP 440 orders them (``packaging``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from packaging.version import InvalidVersion, Version

from agent.version import UNKNOWN, version

CURRENT = "current"
UPDATE_AVAILABLE = "update_available"
TOO_OLD = "too_old"
UNCHECKED = "unknown"  # the server names no versions, or ones that cannot be read
MAX_VERSION_CHARS = 64  # the addon refuses a longer app_version


@dataclass(frozen=True)
class AppCompat:
    """This app's version against what its server supports."""

    version: str
    state: str = UNCHECKED
    min_version: str | None = None
    latest_version: str | None = None
    summary: str | None = None  # "update available (0.1.0 → 0.2.0): …", or None
    advice: str | None = None  # what to do about it on this tablet

    @property
    def too_old(self) -> bool:
        return self.state == TOO_OLD

    @property
    def cause(self) -> str | None:
        """What the indicator and the status say: the summary, then what to do."""
        return f"{self.summary}; {self.advice}" if self.summary else None

    def as_status(self) -> dict:
        """The status's ``app``: agent/status.py, read by the page and `possync status`."""
        return {
            "version": self.version,
            "state": self.state,
            "min_version": self.min_version,
            "latest_version": self.latest_version,
            "cause": self.cause,
        }


def on_windows(platform: str | None = None) -> bool:
    return (platform or sys.platform).startswith("win")


def how_to_update(platform: str | None = None) -> str:
    """What to do on this tablet, in the words of its system."""
    if on_windows(platform):
        return "run the new possync setup on this tablet (it keeps the data and unsent orders)"
    return "update possync on this tablet: sudo apt update && sudo apt upgrade"


def announced() -> str | None:
    """The version this app announces with its pushes (the public part of PEP 440); None
    when it does not know its own version (the server then checks nothing)."""
    own = _parse(version())
    return None if own is None or version() == UNKNOWN else own.public


def check(info: dict, own: str | None = None, platform: str | None = None) -> AppCompat:
    """``info``: the addon's ``/info`` answer; ``own``: this app's version (default: ours)."""
    own = own or version()
    low, high = info.get("app_min_version"), info.get("app_latest_version")
    mine, least, newest = _parse(own), _parse(low), _parse(high)
    if mine is None or least is None or newest is None or own == UNKNOWN:
        return AppCompat(own)
    seen = AppCompat(own, CURRENT, str(low), str(high))
    advice = how_to_update(platform)
    if mine < least:
        summary = f"too old for this server (needs ≥ {low}): possync {own} syncs nothing"
        summary += " with it and keeps its changes until then"
        return replace(seen, state=TOO_OLD, summary=summary, advice=advice)
    if mine < newest:
        summary = f"update available ({own} → {high}): this version keeps working"
        return replace(seen, state=UPDATE_AVAILABLE, summary=summary, advice=advice)
    return seen


def _parse(text: object) -> Version | None:
    """A version read from a string; None for anything else (a server's answer is not
    trusted to be well formed)."""
    if not isinstance(text, str) or len(text) > MAX_VERSION_CHARS:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
