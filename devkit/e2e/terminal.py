"""One terminal of the end-to-end suite: a browser profile with the POS page, its agent.

The page gets the desktop app's own injected script (shell/injection.py) pointing at this
terminal's agent, and loads Odoo through this terminal's fault proxy (its Wi-Fi): the page's
own requests to Odoo (POS load, Odoo's native order sync and bus) and the agent's sync
share that link, as on a tablet.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shell.injection import AgentAddress, agent_script

from .agents import Agent

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

POS_JS = Path(__file__).with_name("pos.js")
LOAD_TIMEOUT_MS = 120_000
# Owl's last words when a render fails: the POS screen is gone, only a reload brings it back.
UI_CRASH = "Destroying the root component"


class Terminal:
    def __init__(self, name: str, agent: Agent, base_url: str, pos_path: str) -> None:
        self.name = name
        self.agent = agent
        self.base_url = base_url  # the proxy in front of Odoo
        self.pos_path = pos_path
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.ui_crashes = 0

    @property
    def on(self) -> bool:
        return self.page is not None

    def open(self, browser: Browser) -> None:
        """Create the browser profile (once) and load the POS in a new page."""
        if self.context is None:
            self.context = browser.new_context(viewport={"width": 1280, "height": 800})
            address = AgentAddress(self.agent.spec.page_port, self.agent.spec.token)
            self.context.add_init_script(agent_script(address, self.base_url, False))
            self.context.add_init_script(path=str(POS_JS))
        self.page = self.context.new_page()
        log = self.agent.spec.data_dir / "console.log"
        self.page.on("pageerror", lambda e: _append(log, f"pageerror {str(e)[:2000]}"))
        self.page.on("console", lambda m: self._console(log, m))
        self._login_and_open()

    def _console(self, log: Path, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            _append(log, f"{message.type} {message.text[:2000]}")
            self.ui_crashes += UI_CRASH in message.text

    def _login_and_open(self) -> None:
        assert self.page is not None
        page = self.page
        page.goto(f"{self.base_url}/web/login?redirect={self.pos_path}", timeout=LOAD_TIMEOUT_MS)
        login = page.locator("input[name=login]")
        floor = page.locator(".floor-screen .floor-map")
        register = page.locator(".login-overlay .open-register-btn")
        login.or_(floor).or_(register).first.wait_for(timeout=LOAD_TIMEOUT_MS)
        if login.is_visible():  # a profile switched back on is still logged in
            login.fill("admin")
            page.fill("input[name=password]", "admin")
            page.click("form button[type=submit]")
        floor.or_(register).first.wait_for(timeout=LOAD_TIMEOUT_MS)
        if register.is_visible():
            register.click()
        floor.wait_for(timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function("() => window.e2e && window.e2e.ready()", timeout=LOAD_TIMEOUT_MS)

    def switch_off(self) -> None:
        """Power cut: the agent is SIGKILLed and the page goes away (storage stays)."""
        self.agent.kill()
        if self.page is not None:
            self.page.close()
            self.page = None

    def js(self, expression: str, arg: Any = None) -> Any:
        assert self.page is not None, f"terminal {self.name} is off"
        return self.page.evaluate(expression, arg)

    def views(self) -> list[dict]:
        return self.js("() => window.e2e.views()")

    def pending(self) -> int:
        return self.js("() => window.e2e.pending()")

    def wait_pushed(self, timeout: float = 20) -> bool:
        """True once everything edited on this page is acknowledged by its agent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None
            self.page = None
        self.agent.stop()


def _append(path: Path, text: str) -> None:
    with path.open("a") as out:
        out.write(f"{time.strftime('%H:%M:%S')} {text}\n")
