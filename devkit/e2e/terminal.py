"""One terminal of the end-to-end suite: a browser profile with the POS page, its agent.

The page gets the desktop app's own injected script (shell/injection.py) pointing at this
terminal's agent, and loads Odoo through this terminal's fault proxy (its Wi-Fi): the page's
own requests to Odoo (POS load, Odoo's native order sync and bus) and the agent's sync
share that link, as on a tablet.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from devkit.odoo import OdooInstance
from devkit.pos_page import POS_LOAD_TIMEOUT_MS, UI_CRASH, PosPage
from shell.injection import AgentAddress, agent_script

from .agents import Agent
from .memory import js_heap_mb

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, ConsoleMessage

PageT = TypeVar("PageT")
ACTION_TIMEOUT_MS = 30_000  # Playwright's default
OPEN_TRIES = 3


class Station(Generic[PageT]):
    """A terminal's name, its agent and, while the terminal is on, its POS page."""

    def __init__(self, name: str, agent: Agent) -> None:
        self.name = name
        self.agent = agent
        self._pos: PageT | None = None

    @property
    def on(self) -> bool:
        return self._pos is not None

    @property
    def pos(self) -> PageT:
        """The POS page, while the terminal is on."""
        assert self._pos is not None, f"terminal {self.name} is off"
        return self._pos


class Terminal(Station[PosPage]):
    browser = True

    def __init__(
        self, name: str, agent: Agent, odoo: OdooInstance, via: str, scripts: tuple[Path, ...] = ()
    ) -> None:
        super().__init__(name, agent)
        self.odoo = odoo
        self.via = via  # the proxy in front of Odoo
        self.scripts = scripts  # init scripts after the injected one (a bench's probes)
        self.context: BrowserContext | None = None
        self._cdp: CDPSession | None = None
        self.loads = 0  # POS page loads: each is a life of its own for the memory figures
        self.ui_crashes = 0

    def open(self, browser: Browser, tries: int = OPEN_TRIES) -> None:
        """Create the browser profile (once) and load the POS in a new page; a load that
        times out (a loaded machine) is tried again in a new page, as a waiter reloads."""
        for attempt in range(1, tries + 1):
            try:
                return self._open(browser)
            except PlaywrightTimeout:
                if self._pos is not None:
                    self._pos.page.close()
                    self._pos = None
                if attempt == tries:
                    raise
                _append(self.agent.spec.data_dir / "console.log", "POS load timed out: again")

    def _open(self, browser: Browser) -> None:
        if self.context is None:
            self.context = browser.new_context(viewport={"width": 1280, "height": 800})
            address = AgentAddress(self.agent.spec.page_port, self.agent.spec.token)
            self.context.add_init_script(agent_script(address, self.via, False))
            for script in self.scripts:
                self.context.add_init_script(path=str(script))
        page = self.context.new_page()
        log = self.agent.spec.data_dir / "console.log"
        page.on("pageerror", lambda e: _append(log, f"pageerror {str(e)[:2000]}"))
        page.on("console", lambda m: self._console(log, m))
        self._pos = PosPage(page, self.odoo.tree.major)
        # The login's click waits for its navigation: on a loaded machine (ten terminals'
        # agents on the same cores) that takes as long as a POS load may.
        page.set_default_timeout(POS_LOAD_TIMEOUT_MS)
        self._pos.open(self.odoo, via=self.via)  # a profile switched back on is logged in
        self._pos.wait_ready()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        self.loads += 1
        self._cdp = self.context.new_cdp_session(page)
        self._cdp.send("Performance.enable")

    def heap_mb(self) -> float | None:
        """The page's JS heap in use right after a garbage collection, in MiB (docs/e2e.md
        "Memory" says why not the renderer's RSS); None while the terminal is off."""
        return None if self._cdp is None else js_heap_mb(self._cdp)

    def _console(self, log: Path, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            _append(log, f"{message.type} {message.text[:2000]}")
            self.ui_crashes += UI_CRASH in message.text

    def switch_off(self) -> None:
        """Power cut: the agent is SIGKILLed and the page goes away (storage stays)."""
        self.agent.kill()
        self._cdp = None
        if self._pos is not None:
            self._pos.page.close()
            self._pos = None

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None
            self._pos = self._cdp = None
        self.agent.stop()


def _append(path: Path, text: str) -> None:
    with path.open("a") as out:
        out.write(f"{time.strftime('%H:%M:%S')} {text}\n")
