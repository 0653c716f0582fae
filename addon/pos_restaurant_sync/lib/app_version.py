"""Which versions of the possync desktop app this addon works with (docs/protocol.md,
"Versioning"), and the check of the version an app announces with its push.

``APP_MIN_VERSION`` is the oldest app whose pushes this server accepts: raise it when an
older app would store something this addon reads wrongly. ``APP_LATEST_VERSION`` is the
newest app released with this addon (pyproject.toml's version;
tests/agent/test_app_update.py keeps them equal): an app older than it, but not older than
the minimum, is told an update is available. Both are app versions, not the addon's own
(the manifest's). A server's administrator may raise either, never lower it, with the
system parameters ``PARAMETERS`` names (`named`): the newest release they published to
their tablets, the oldest they still allow.

Versions are PEP 440 release versions without epoch or local part (``0.1.0``,
``0.2.0rc1``, ``0.2.0.post1``, ``0.3.0.dev2``), compared as PEP 440 orders them. No Odoo
imports: the tests load this module on its own.
"""

from __future__ import annotations

import re

APP_MIN_VERSION = "0.1.0"
APP_LATEST_VERSION = "0.1.0"
MAX_VERSION_CHARS = 64
# System parameters (ir.config_parameter) that raise the two versions on one server.
PARAMETERS = (
    "pos_restaurant_sync.app_min_version",
    "pos_restaurant_sync.app_latest_version",
)
PRE_RELEASES = {"a": 0, "b": 1, "rc": 2}

_VERSION = re.compile(
    r"(?P<release>\d{1,9}(?:\.\d{1,9}){0,5})"
    r"(?:(?P<pre>a|b|rc)(?P<pre_n>\d{1,9}))?"
    r"(?:\.post(?P<post>\d{1,9}))?"
    r"(?:\.dev(?P<dev>\d{1,9}))?"
)
_INF = float("inf")


class AppVersionRefused(ValueError):
    """A push refused for the app version it announced; ``code`` is the protocol's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sort_key(text: str) -> tuple:
    """The PEP 440 order of a version this module accepts; ValueError for any other."""
    match = _VERSION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a version: {text!r:.80}")
    release = tuple(int(part) for part in match["release"].split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    if match["pre"]:
        pre = (PRE_RELEASES[match["pre"]], int(match["pre_n"]))
    elif match["dev"] and not match["post"]:
        pre = (-_INF, 0)  # 1.0.dev1 sorts before 1.0a1
    else:
        pre = (_INF, 0)
    post = int(match["post"]) if match["post"] else -_INF
    dev = int(match["dev"]) if match["dev"] else _INF
    return (release, pre, post, dev)


def named(min_parameter: object = None, latest_parameter: object = None) -> dict[str, str]:
    """What ``/info`` tells the app: this addon's versions, raised (never lowered) by the
    administrator's parameters; a parameter that is not a version is ignored. The newest is
    never below the minimum."""
    least = _highest(APP_MIN_VERSION, min_parameter)
    newest = _highest(APP_LATEST_VERSION, latest_parameter, least)
    return {"app_min_version": least, "app_latest_version": newest}


def _highest(*versions: object) -> str:
    readable = []
    for version in versions:
        try:
            readable.append((sort_key(version), version))
        except ValueError:
            continue
    return max(readable, key=lambda pair: pair[0])[1]


def check_announced(announced: object, minimum: str | None = None) -> None:
    """Refuse a push from an app older than ``minimum`` (default ``APP_MIN_VERSION``:
    ``app_too_old``) or announcing something that is not a version (``bad_request``). None
    is a POS page in a plain browser, which runs this addon's own scripts: nothing to
    check."""
    minimum = minimum or APP_MIN_VERSION
    if announced is None:
        return
    if not isinstance(announced, str) or len(announced) > MAX_VERSION_CHARS:
        raise AppVersionRefused("bad_request", "app_version must be a version such as 0.1.0")
    try:
        key = sort_key(announced)
    except ValueError:
        raise AppVersionRefused(
            "bad_request", f"app_version {announced!r} is not a version such as 0.1.0"
        ) from None
    if key < sort_key(minimum):
        raise AppVersionRefused(
            "app_too_old",
            f"possync {announced} is too old for this server (needs ≥ {minimum}): "
            "update possync on this tablet",
        )
