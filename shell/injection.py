"""The scripts the app runs inside pages, built from shell/static with values filled in.

Values go in as JSON literals, never by string formatting of raw text, so a password or
URL cannot break out of the script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from shell import paths

# What the page reports about itself after each load (no secrets involved).
INSPECT_JS = (
    "JSON.stringify({href: location.href, origin: location.origin, path: location.pathname})"
)
# The addon's own count of changes not yet acknowledged by the agent; null without it.
PENDING_JS = (
    "(window.possync && typeof window.possync.pendingCount === 'function')"
    " ? Number(window.possync.pendingCount()) : null"
)
# Odoo's global POS handle (both 18 and 19 set it in Chrome.setup).
POS_RUNNING_JS = "!!window.posmodel"


@dataclass(frozen=True)
class AgentAddress:
    page_port: int
    token: str

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.page_port}/page"


@cache
def _static(name: str) -> str:
    return paths.resource_path(name).read_text(encoding="utf-8")


def agent_script(agent: AgentAddress, allowed_origins: list[str], addon_watch: bool) -> str:
    """Sets window.possyncAgent and fires ``possync:agent``, once per page load."""
    return _static("banner.js") + _static("inject.js").replace(
        "__AGENT__", json.dumps({"url": agent.url, "token": agent.token})
    ).replace("__ORIGINS__", json.dumps(allowed_origins)).replace(
        "__ADDON_WATCH__", json.dumps(addon_watch)
    )


def login_script(db: str, login: str, password: str, next_url: str) -> str:
    """Logs the Odoo login page in with the stored password, then opens ``next_url``."""
    values = {"db": db, "login": login, "password": password, "next": next_url}
    return _static("banner.js") + _static("autologin.js").replace("__LOGIN__", json.dumps(values))


@dataclass(frozen=True)
class PageInfo:
    href: str
    origin: str
    path: str

    @classmethod
    def parse(cls, raw: object) -> PageInfo | None:
        try:
            data = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        return cls(*(str(data.get(key, "")) for key in ("href", "origin", "path")))

    @property
    def is_error_page(self) -> bool:
        """Chromium's own page for a failed load (server down, DNS, TLS)."""
        return self.href.startswith("chrome-error:")
