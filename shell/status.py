"""The running agent's status: fetched over loopback, and printed for `possync status`.

The app writes ``running.json`` (readable only by this user) while it runs, with the
agent's port and per-launch token, so a second `possync` process can ask the agent.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from agent.clock import describe_status
from shell import paths
from shell.i18n import _


def write_runtime(page_port: int, token: str, agent_pid: int | None) -> None:
    info = {"pid": os.getpid(), "agent_pid": agent_pid, "page_port": page_port, "token": token}
    paths.write_private(paths.runtime_file(), json.dumps(info) + "\n")


def read_runtime() -> dict[str, Any] | None:
    try:
        return json.loads(paths.runtime_file().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def clear_runtime() -> None:
    paths.runtime_file().unlink(missing_ok=True)


def fetch_status(page_port: int, token: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """GET /status from the agent; None when it does not answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{page_port}/status", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, urllib.error.URLError, json.JSONDecodeError, ValueError):
        return None


def peer_count(status: dict[str, Any]) -> int:
    peers = status.get("peers")
    if isinstance(peers, list | dict):
        return len(peers)
    return int(peers or 0)


def describe(status: dict[str, Any]) -> list[str]:
    """The status in a few lines a person can read."""
    server = status.get("server") or {}
    if not server.get("configured", True):
        link = _("not configured")
    elif server.get("reachable"):
        link = _("reachable ({path})").format(path=server.get("path") or _("connected"))
    else:
        link = _("unreachable ({cause})").format(cause=server.get("cause") or _("no answer"))
    rows = [
        (_("terminal:"), status.get("terminal", "?")),
        (_("server:"), link),
        (_("last sync:"), server.get("last_sync") or _("never")),
        (_("unsent:"), _("{n} change(s)").format(n=status.get("pending", 0))),
        (_("peers:"), peer_count(status)),
    ]
    if isinstance(status.get("clock"), dict):
        rows.append((_("clock:"), describe_status(status["clock"])))
    if isinstance(status.get("app"), dict) and status["app"].get("cause"):
        rows.append((_("app:"), status["app"]["cause"]))
    rejected = status.get("rejected") or {}
    if rejected.get("count"):
        reason = (rejected.get("last") or {}).get("reason")
        refused = _("{n} change(s) by the server; last: {reason}")
        rows.append((_("refused:"), refused.format(n=rejected["count"], reason=reason)))
    return [f"{label:<13} {value}" for label, value in rows]


def command() -> tuple[int, list[str]]:
    """`possync status`: exit code and lines to print."""
    runtime = read_runtime()
    if runtime is None:
        return 1, [_("possync is not running (no agent to ask).")]
    status = fetch_status(int(runtime["page_port"]), str(runtime["token"]))
    if status is None:
        return 1, [
            _("The agent on port {port} does not answer.").format(port=runtime["page_port"]),
            _("If possync is running, it restarts the agent by itself; otherwise start possync."),
        ]
    return 0, [_("possync agent: running"), *describe(status)]
