"""The pywebview (Qt) window and the guard that keeps unsent changes from being closed away.

pywebview calls that wait on the GUI thread (``run_js``, dialogs) can hang forever, for
example while the window closes; every such call here runs with a timeout and never on
the GUI thread itself.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shell.browser import (
    Browser,
    CertificateTrust,
    NavigationPolicy,
    js_value,
    refuse_file_choosers,
)
from shell.credentials import call_with_timeout
from shell.i18n import _, ngettext
from shell.printing import PagePrinter, PrinterChoice

log = logging.getLogger("possync.window")

JS_TIMEOUT_S = 3.0


def prepare_qt_env(offscreen: bool = False) -> None:
    """Environment Qt WebEngine needs; call before pywebview is imported."""
    # pywebview reaches Qt through QtPy, as the shell does: both must load PySide6 (LGPL),
    # the binding possync ships, even where another binding is installed too.
    os.environ["QT_API"] = "pyside6"
    # Chromium's sandbox refuses to run as root; nowhere else is it switched off.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    if offscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise SystemExit(_("possync needs a display: no DISPLAY or WAYLAND_DISPLAY is set."))


class ShellWindow:
    """One pywebview window; the app tells it what to load and reacts to its events."""

    def __init__(self, title: str, url: str, fullscreen: bool = False, kiosk: bool = False) -> None:
        import webview

        self.printer: PagePrinter | None = None
        self.browser: Browser | None = None
        self.browser_ready = threading.Event()
        # A POS owns the tablet's screen: maximized, or full screen. A kiosk also has no
        # frame: no title bar, so no close, minimize or restore button to press; and it is
        # placed at the screen's corner, as pywebview otherwise centres a window, which
        # without a window manager (a kiosk session) leaves it off the screen's edges.
        full = fullscreen or kiosk
        corner = 0 if kiosk else None
        if kiosk:
            from webview.platforms import qt

            refuse_file_choosers(qt.BrowserView.WebPage)
        self.native = webview.create_window(
            title,
            url,
            fullscreen=full,
            maximized=not full,
            frameless=kiosk,
            easy_drag=False,
            x=corner,
            y=corner,
            width=1280,
            height=800,
            min_size=(800, 600),
        )

    def on_loaded(self, handler: Callable[[], None]) -> None:
        # pywebview fires `loaded` on its own thread, after every page load (reloads and
        # redirects included): the place to inject.
        self.native.events.loaded += handler

    def on_print(self, choose: PrinterChoice) -> None:
        """Answer the page's ``window.print()`` with the printer ``choose`` picks."""

        def attach() -> None:
            # The Qt window exists from `before_show` on, before any page has loaded.
            self.printer = PagePrinter(self.native.native, choose)

        self.native.events.before_show += attach

    def guard_browser(
        self,
        policy: NavigationPolicy,
        trust: Callable[[], CertificateTrust],
        ready: Callable[[], None],
    ) -> None:
        """Hook the navigation allow-list and the certificate check into the Qt page as
        soon as it exists (before any page of the server can load), then call ``ready``."""

        def attach() -> None:
            self.browser = Browser(self.native.native, policy, trust)
            self.browser_ready.set()
            ready()

        self.native.events.before_show += attach

    def current_url(self, timeout: float = JS_TIMEOUT_S) -> str | None:
        """The address the browser shows (Qt's own record, which no page script can
        change across origins), or None when it does not answer."""
        try:
            return call_with_timeout(self.native.get_current_url, timeout)
        except Exception as exc:  # a timeout, or the window going away
            log.warning("could not read the window's address: %s", exc)
            return None

    def on_closing(self, handler: Callable[[], bool]) -> None:
        self.native.events.closing += handler

    def load(self, url: str) -> None:
        self.native.load_url(url)

    def run_js(self, script: str, timeout: float = JS_TIMEOUT_S) -> Any:
        """Run ``script`` as is (no eval wrapper) and return its value, or None on timeout."""
        try:
            return js_value(call_with_timeout(lambda: self.native.run_js(script), timeout))
        except TimeoutError:
            log.warning("page script did not answer within %.1f s", timeout)
        except Exception as exc:  # the page went away, or pywebview is shutting down
            log.warning("page script failed: %s", exc)
        return None

    def confirm(self, title: str, message: str) -> bool:
        return bool(self.native.create_confirmation_dialog(title, message))

    def destroy(self) -> None:
        self.native.destroy()

    def toggle_fullscreen(self) -> None:
        self.native.toggle_fullscreen()


@dataclass
class Pending:
    page: int | None  # not yet stored by the agent (still only in the POS page)
    agent: int | None  # stored by the agent, not yet acknowledged by the server

    @property
    def total(self) -> int:
        return (self.page or 0) + (self.agent or 0)


def pending_message(pending: Pending) -> str:
    count = pending.total
    parts = []
    if pending.page:
        parts.append(_("{n} still on this screen, may be lost").format(n=pending.page))
    if pending.agent:
        kept = _("{n} kept by the local agent, sent at the next start")
        parts.append(kept.format(n=pending.agent))
    detail = f" ({'; '.join(parts)})" if parts else ""
    unsent = ngettext(
        "{n} change has not reached the Odoo server yet{detail}.",
        "{n} changes have not reached the Odoo server yet{detail}.",
        count,
    ).format(n=count, detail=detail)
    return unsent + "\n\n" + _(
        "Close possync anyway? Other terminals will not see these changes until they are sent."
    )


class CloseGuard:
    """Asks before closing while changes are unsent.

    pywebview runs the ``closing`` handler on the GUI thread and cancels the close when it
    returns False. Counting needs the page and the agent, which cannot be waited for on
    the GUI thread, so the first close is always cancelled, the count taken on a worker
    thread, and the window closed again from there once the user agrees.
    """

    def __init__(
        self,
        count: Callable[[], Pending],
        confirm: Callable[[str, str], bool],
        close: Callable[[], None],
    ) -> None:
        self._count = count
        self._confirm = confirm
        self._close = close
        self._lock = threading.Lock()
        self._deciding = False
        self.allowed = False

    def on_closing(self) -> bool:
        with self._lock:
            if self.allowed:
                return True
            if not self._deciding:
                self._deciding = True
                threading.Thread(target=self._decide, name="possync-close", daemon=True).start()
        return False

    def force(self) -> None:
        """Close without asking (shutdown signal)."""
        self.allowed = True
        self._close()

    def _decide(self) -> None:
        try:
            pending = self._count()
            title = _("Unsent changes")
            agreed = pending.total == 0 or self._confirm(title, pending_message(pending))
        except Exception:
            log.exception("could not count unsent changes; closing")
            agreed = True
        with self._lock:
            self._deciding = False
            self.allowed = agreed
        if agreed:
            self._close()
