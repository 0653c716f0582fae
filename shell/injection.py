"""The scripts the app runs inside pages, built from shell/static with values filled in.

Values go in as JSON literals, never by string formatting of raw text, so a value cannot
break out of the script. No script carries the password: the app logs in from Python
and hands the session to the browser's cookie store (shell/browser.py). What a page is
comes from the browser, never from a script in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from shell import paths
from shell.i18n import N_, _

# The addon's own count of changes not yet acknowledged by the agent; null without it.
PENDING_JS = (
    "(window.possync && typeof window.possync.pendingCount === 'function')"  # i18n: ignore
    " ? Number(window.possync.pendingCount()) : null"
)
# The notice on a POS whose server lacks the addon (inject.js; translated when injected).
ADDON_MISSING = N_(
    "pos_restaurant_sync addon not installed on the server: this terminal does not "
    "sync live with the others. Ask your Odoo administrator to install it."
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


def agent_script(agent: AgentAddress, origin: str, addon_watch: bool) -> str:
    """Sets window.possyncAgent and fires ``possync:agent``, once per page load, only in a
    document of ``origin``."""
    return _static("banner.js") + _static("inject.js").replace(
        "__AGENT__", json.dumps({"url": agent.url, "token": agent.token})
    ).replace("__ORIGIN__", json.dumps(origin)).replace(
        "__ADDON_WATCH__", json.dumps(addon_watch)
    ).replace("__ADDON_MISSING__", json.dumps(_(ADDON_MISSING)))


def banner_script(text: str) -> str:
    """Shows ``text`` in the page's notice bar (no secret involved: only for the server's
    own pages, where the app tells the user what it could not do)."""
    return _static("banner.js") + f"window.possyncBanner({json.dumps(text)}); true"
