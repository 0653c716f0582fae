"""The desktop app: setup, the POS window, the agent it supervises.

The app holds no sync logic: it decides which page the window shows, hands the agent's
address to the POS page, keeps the agent running, and asks before closing while
changes are unsent.
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from agent import server_tls
from shell import desktop_entry, i18n, kiosk, odoo_probe, paths, printing, status
from shell import settings as settings_mod
from shell.browser import CertificateTrust, NavigationPolicy
from shell.credentials import Credentials, KeyringUnavailable
from shell.i18n import N_, _
from shell.injection import PENDING_JS, AgentAddress, agent_script, banner_script
from shell.localserver import LocalServer
from shell.settings import ServerTls, Settings, origin_of
from shell.setup_api import SetupApi
from shell.supervisor import AgentSupervisor, Listening, child_env
from shell.window import CloseGuard, Pending, ShellWindow

log = logging.getLogger("possync.app")

AGENT_START_TIMEOUT_S = 15.0
# At most this many automatic logins per minute: a POS that keeps sending the window
# back to the login page must not loop.
AUTO_LOGIN_PER_MINUTE = 2
LOGIN_REFUSED = N_(
    "possync could not log in with the saved password ({why}). Log in here once, or change "
    "the password in possync's Settings."
)
# Kiosk: where the window may go on the server (the POS and its login page; not the back
# office), and which of the app's own pages it may show without the manager PIN.
KIOSK_SERVER_PATHS = ("/pos", "/web/login")
KIOSK_LOCAL_PAGES = ("/offline.html", "/pin.html")
# Waits before asking the server's kiosk setting again after a failure that may pass.
KIOSK_READ_RETRY_S = (1.0, 2.0, 4.0)
PIN_ACTIONS = ("settings", "quit")
NO_PRINTER = N_(
    "Nothing was printed: this tablet has no default printer. Ask a manager to set one."
)
SET_A_PIN = N_(
    "This tablet is a kiosk: choose a manager PIN (4 to 8 digits) to finish the setup."
)
INSECURE_NOTICE = N_(
    "INSECURE: {url} is plain http:// — the password, the session and every order cross "
    "the network unencrypted. Switch the server to https:// (possync → Settings…)."
)


class ServerWatch:
    """Is the Odoo server answering? Cached briefly so several pages can ask often."""

    def __init__(self, server_url: str, tls: ServerTls, timeout: float = 3.0) -> None:
        self.server_url = server_url
        self.tls = tls
        self.timeout = timeout
        self._lock = threading.Lock()
        self._checked = 0.0
        self.reachable = False
        self.message = _("Not checked yet.")

    def check(self, max_age: float = 1.5) -> bool:
        with self._lock:
            if time.monotonic() - self._checked < max_age:
                return self.reachable
            try:
                odoo_probe.run(self._probe())
                self.reachable, self.message = True, _("The server answers.")
            except odoo_probe.ProbeError as exc:
                self.reachable, self.message = False, exc.message
            self._checked = time.monotonic()
            return self.reachable

    async def _probe(self) -> None:
        async with odoo_probe.OdooProbe(self.server_url, self.timeout, self.tls) as probe:
            await probe.server()


def agent_args(settings: Settings, page_port: int, origins: list[str]) -> list[str]:
    """The agent's command line for these settings (see the agent's `run` command)."""
    args = ["run", "--data-dir", str(paths.agent_data_dir()), "--page-port", str(page_port)]
    if settings.is_complete():
        args += ["--server", settings.server_url, "--db", settings.database]
        args += ["--login", settings.login, "--config-id", str(settings.config_id)]
    for origin in origins:
        args += ["--allowed-origin", origin]
    return args


class App:
    def __init__(
        self,
        settings: Settings,
        credentials: Credentials | None = None,
        open_setup: bool = False,
        confirm: Callable[[str, str], bool] | None = None,
        agent_options: Sequence[str] = (),
        print_to: printing.PrinterChoice | None = None,
        kiosk_mode: bool = False,
    ) -> None:
        """``confirm`` replaces the close dialog (default: a native one);
        ``agent_options`` are added to the agent's command line (e.g. ``--no-mdns``);
        ``print_to`` replaces the printer the settings choose; ``kiosk_mode`` runs as a
        kiosk this time whatever the settings say."""
        self.settings = settings
        # Fixed for the run: the window's frame cannot change once it is shown.
        self.kiosk = kiosk_mode or settings.kiosk or settings.server_kiosk
        # Set once the POS's kiosk setting was read from the server at this start.
        self.server_kiosk_read = threading.Event()
        self.pin = kiosk.PinGate(lambda: self.settings.manager_pin_hash)
        # What the manager PIN was given for, until the POS shows again (or it expires).
        self.unlocked = kiosk.Unlock()
        self.credentials = credentials or Credentials()
        self.agent_options = list(agent_options)
        self._confirm = confirm
        self._print_to = print_to
        self.page_token = secrets.token_urlsafe(32)
        self.api = SetupApi(self)
        self.local = LocalServer(self.api.handlers())
        self.watch = ServerWatch(settings.server_url, settings.tls())
        self.secret: str | None = None
        self.supervisor: AgentSupervisor | None = None
        self.window: ShellWindow | None = None
        self.guard: CloseGuard | None = None
        self._open_setup = open_setup
        self._injection_waiting = False
        self._logins: deque[float] = deque(maxlen=AUTO_LOGIN_PER_MINUTE)
        self._login_load: int | None = None  # the page load the last login was made for

    # ------------------------------------------------------------------ lifecycle

    def run(self, gui: str = "qt") -> int:
        import webview

        paths.make_folders_private()  # before Qt's profile, the logs and the agent write there
        i18n.startup_language(self.settings.lang)  # before the window, its menu and pages
        desktop_entry.create_once()
        self.local.start()
        self.window = ShellWindow(
            "possync", self._first_page(), self.settings.fullscreen, self.kiosk
        )
        self.guard = CloseGuard(
            self.count_pending, self._confirm or self.window.confirm, self.window.destroy
        )
        policy = NavigationPolicy(self._allowed_origins, self._kiosk_paths)
        self.window.guard_browser(policy, self._certificate_trust, self._show_tls)
        self.window.on_loaded(self._on_loaded)
        self.window.on_print(self._choose_printer)
        self.window.on_closing(self._on_closing)
        signal.signal(signal.SIGTERM, lambda *_: self.guard and self.guard.force())
        try:
            webview.start(
                self._after_start,
                gui=gui,
                private_mode=False,
                storage_path=str(paths.web_storage_dir()),
                menu=self._menu(),
                # The installer's icon, carried in shell/static so a source run has it too.
                icon=str(paths.resource_path("possync.png")),
            )
        finally:
            self.stop()
        return 0

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        status.clear_runtime()
        self.local.stop()

    def _choose_printer(self, parent: Any) -> Any:
        # Read at each print: the setup screen may have changed the setting meanwhile.
        if self._print_to is not None:
            return self._print_to(parent)
        if self.kiosk:
            return self._kiosk_printer(parent)
        printer = printing.default_printer(parent) if self.settings.silent_print else None
        return printing.ask(parent) if printer is None else printer

    def _kiosk_printer(self, parent: Any) -> Any:
        """The default printer; never the print dialog, whose "print to file" opens the
        tablet's files. With no default printer, nothing is printed and the window says so."""
        printer = printing.default_printer(parent)
        if printer is None:
            log.warning("kiosk: nothing printed, this tablet has no default printer")
            printing.show_notice(parent, _(NO_PRINTER))
        return printer

    def _needs_setup(self) -> bool:
        return self._open_setup or not self.settings.is_complete() or self._kiosk_without_pin()

    def _first_page(self) -> str:
        if self._kiosk_without_pin():
            return self.local.url("setup.html", message=_(SET_A_PIN))
        if self._needs_setup():
            return self._setup_or_pin_url("")
        return self.local.url("offline.html", mode="starting")

    def _after_start(self) -> None:
        """Runs on pywebview's worker thread while the window starts: reads the password
        and starts the agent meanwhile, then opens the POS."""
        if self._needs_setup():
            return
        problem = self._insecure_problem() or self._read_secret()
        reachable = False
        if problem is None:
            self.start_agent()
            threading.Thread(target=self._read_server_kiosk, daemon=True).start()
            reachable = self.watch.check()
        # A load asked for before the first page has loaded is lost to that first load.
        assert self.window is not None
        self.window.native.events.loaded.wait(AGENT_START_TIMEOUT_S)
        if problem:
            self.show_setup(problem)
        else:
            self.open_pos(reachable)

    def _insecure_problem(self) -> str | None:
        """Settings with plain http:// to another computer and no opt-in are not run."""
        try:
            server_tls.check_server_url(self.settings.server_url, self.settings.allow_insecure_http)
        except server_tls.InsecureServer as exc:
            return str(exc)
        return None

    def _read_secret(self) -> str | None:
        """Load the stored password; return what to tell the user when there is none."""
        try:
            self.secret = self.credentials.get(self.settings)
        except KeyringUnavailable as exc:
            return _("Could not read the saved password: {error} Type it to continue.").format(
                error=exc
            )
        return None if self.secret else _("Type the password to start the POS.")

    # ------------------------------------------------------------------ navigation

    def show_setup(self, message: str = "") -> None:
        """The setup screen; on a kiosk, the manager PIN prompt first."""
        assert self.window is not None
        self.window.load(self._setup_or_pin_url(message))

    def _setup_or_pin_url(self, message: str) -> str:
        if self.pin_needed("settings"):
            return self.local.url("pin.html", then="settings", message=message)
        return self.local.url("setup.html", message=message)

    def show_offline(self) -> None:
        assert self.window is not None
        self.unlocked = kiosk.Unlock()
        self.window.load(self.local.url("offline.html"))

    def open_pos(self, reachable: bool | None = None) -> None:
        """The POS when the server answers (or Odoo 19 can start offline), else the
        local page that waits for the server."""
        assert self.window is not None
        if reachable is None:
            reachable = self.watch.check()
        offline_start = self.settings.odoo_major >= 19 and self.settings.pos_loaded_once
        if reachable or offline_start:
            self.unlocked = kiosk.Unlock()
            self.window.load(self.settings.pos_url())
        else:
            self.show_offline()

    def _on_loaded(self) -> None:
        """After each load: what the browser says is shown decides what happens, never
        what a script in the page reports."""
        assert self.window is not None
        browser = self.window.browser
        if browser is not None and browser.state.last_load.failed:
            # The server went away (or never answered): wait for it on the local page.
            self.show_offline()
            return
        url = self.window.current_url()
        if not url or not self.settings.server_url:
            return
        if origin_of(url) != self.settings.server_origin():
            return  # the app's own pages: nothing to hand over
        path = urlsplit(url).path
        if path.startswith("/web/login"):
            self._auto_login()
            return
        if path.startswith("/pos/") and not self.settings.pos_loaded_once:
            self.settings = replace(self.settings, pos_loaded_once=True)
            settings_mod.save(self.settings)
        self.inject()

    def _auto_login(self) -> None:
        """Log in from Python and give the session to the browser's cookie store, then
        open the POS: the password never enters a page."""
        assert self.window is not None
        now = time.monotonic()
        browser = self.window.browser
        # One load of the login page may be reported twice: log in once for it.
        load = browser.state.loads_started if browser is not None else None
        if not self.secret or (load is not None and load == self._login_load):
            return
        self._login_load = load
        if len(self._logins) == AUTO_LOGIN_PER_MINUTE and now - self._logins[0] < 60:
            return
        self._logins.append(now)
        s = self.settings
        try:
            session = odoo_probe.run(
                odoo_probe.web_session(s.server_url, s.tls(), s.database, s.login, self.secret)
            )
        except odoo_probe.ProbeError as exc:
            log.warning("automatic login refused: %s", exc.message)
            browser = self.window.browser
            if browser is not None:
                notice = banner_script(_(LOGIN_REFUSED).format(why=exc.message))
                browser.run_at(s.server_origin(), notice)
            return
        self.follow_user_language(session.lang)
        browser = self.window.browser
        if browser is None or not browser.set_cookies(s.server_origin(), session.cookies):
            log.warning("the web view did not take the session cookie")
            return
        self.window.load(s.pos_url())

    # ------------------------------------------------------------------ browser policy

    def _certificate_trust(self) -> CertificateTrust:
        return CertificateTrust(self.settings.server_origin(), self.settings.server_ca_file)

    def _show_tls(self) -> None:
        """The permanent red notice while the server is plain http:// off this machine."""
        if self.window is None or self.window.browser is None:
            return
        s = self.settings
        insecure = bool(s.server_url) and s.allow_insecure_http and s.is_insecure()
        self.window.browser.show_insecure(
            _(INSECURE_NOTICE).format(url=s.server_origin()) if insecure else None
        )

    # ------------------------------------------------------------------ agent

    def _kiosk_paths(self) -> dict[str, tuple[str, ...]] | None:
        """Kiosk: the POS on the server, and the app's pages the PIN does not guard
        (the setup screen too once the PIN was given for it, or while no PIN is set)."""
        if not self.kiosk:
            return None
        local = KIOSK_LOCAL_PAGES
        if not self.pin_needed("settings"):
            local += ("/setup.html",)
        paths = {self.local.origin: local}
        if self.settings.server_url:
            paths[self.settings.server_origin()] = KIOSK_SERVER_PATHS
        return paths

    def _allowed_origins(self) -> list[str]:
        """The server and the app's own pages: where the window may go, and where the
        agent accepts a page from."""
        origins = [self.local.origin]
        if self.settings.server_url:
            origins.insert(0, self.settings.server_origin())
        return origins

    def start_agent(self) -> None:
        env = {
            "POSSYNC_PAGE_TOKEN": self.page_token,
            # Always set, so a value in the app's own environment never leaks through.
            "POSSYNC_SERVER_CA_FILE": self.settings.server_ca_file,
            "POSSYNC_ALLOW_INSECURE_HTTP": "1" if self.settings.allow_insecure_http else "0",
        }
        if self.secret:
            env["POSSYNC_PASSWORD"] = self.secret
        origins = self._allowed_origins()
        settings, options = self.settings, self.agent_options

        def command(port: int) -> list[str]:
            return paths.agent_command([*agent_args(settings, port, origins), *options])

        if self.supervisor is None:
            self.supervisor = AgentSupervisor(
                command, child_env(env), paths.log_dir() / "agent.log", self._agent_listening
            )
            self.supervisor.start()
        else:
            self.supervisor.restart(command, child_env(env))

    def _agent_listening(self, listening: Listening) -> None:
        status.write_runtime(listening.page_port, self.page_token, listening.pid)
        if self._injection_waiting:
            self.inject()

    def inject(self) -> None:
        """Hand the agent's address to the page; the page script runs it once per load.
        Only a page the browser shows at the server's origin gets it."""
        assert self.window is not None
        browser = self.window.browser
        origin = self.settings.server_origin()
        url = self.window.current_url()
        if browser is None or not url or origin_of(url) != origin:
            return
        supervisor = self.supervisor
        listening = supervisor.wait_listening(AGENT_START_TIMEOUT_S) if supervisor else None
        if listening is None:
            # Injected as soon as the agent listens (see _agent_listening).
            self._injection_waiting = True
            return
        self._injection_waiting = False
        address = AgentAddress(listening.page_port, self.page_token)
        script = agent_script(address, origin, addon_watch=True)
        log.info("injection: %s", browser.run_at(origin, script))

    def agent_status(self) -> dict[str, Any] | None:
        listening = self.supervisor.listening if self.supervisor else None
        if listening is None:
            return None
        return status.fetch_status(listening.page_port, self.page_token)

    def count_pending(self) -> Pending:
        assert self.window is not None
        page = self.window.run_js(PENDING_JS, timeout=2.0)
        agent = self.agent_status()
        return Pending(
            page if isinstance(page, int) else None,
            int(agent.get("pending") or 0) if agent else None,
        )

    # ------------------------------------------------------------------ menu

    def _menu(self) -> list[Any]:
        """The app menu. On a kiosk, Settings… and Quit ask for the manager PIN first
        (show_setup, _on_closing) and there is no leaving full screen."""
        from webview.menu import Menu, MenuAction, MenuSeparator

        assert self.window is not None and self.guard is not None
        full_screen = MenuAction(_("Full screen"), self.window.toggle_fullscreen)
        screen = [] if self.kiosk else [full_screen]
        return [
            Menu(
                "possync",
                [
                    MenuAction(_("Open POS"), self._menu_open_pos),
                    MenuAction(_("Settings…"), lambda: self.show_setup()),
                    *screen,
                    MenuSeparator(),
                    MenuAction(_("Quit"), self.window.destroy),
                ],
            )
        ]

    def _menu_open_pos(self) -> None:
        if self.settings.is_complete() and self.secret:
            self.open_pos()
        else:
            self.show_setup(_("Finish the setup first."))

    # ------------------------------------------------------------------ kiosk

    def _read_server_kiosk(self) -> None:
        """Read the POS's Kiosk Terminals setting and keep it for the next start (this
        run's window is already shown, with or without its frame). Runs on a thread of
        its own: its retries keep nothing waiting."""
        kiosk_now = self._ask_server_kiosk()
        if kiosk_now is not None and kiosk_now != self.settings.server_kiosk:
            log.info(
                "kiosk: the server turned kiosk %s for this POS, from the next start",
                "on" if kiosk_now else "off",
            )
            self.settings = replace(self.settings, server_kiosk=kiosk_now)
            settings_mod.save(self.settings)
        self.server_kiosk_read.set()

    def _ask_server_kiosk(self) -> bool | None:
        """The POS's setting, or None when the server does not say or was not reached. A
        failure that may pass (a slow login on a loaded server, a timeout, Odoo restarting)
        is asked again after each wait of ``KIOSK_READ_RETRY_S``; a refusal is not."""
        s = self.settings
        assert self.secret is not None and s.config_id is not None
        waits = list(KIOSK_READ_RETRY_S)
        while True:
            try:
                return odoo_probe.run(
                    odoo_probe.pos_kiosk(
                        s.server_url, s.tls(), s.database, s.login, self.secret, s.config_id
                    )
                )
            except odoo_probe.ProbeError as exc:
                if not (exc.transient and waits):
                    log.info("kiosk: the POS's setting was not read (%s)", exc.message)
                    return None
                wait = waits.pop(0)
                log.info("kiosk: the POS's setting was not read (%s), again in %g s", exc, wait)
                time.sleep(wait)

    def _kiosk_without_pin(self) -> bool:
        return self.kiosk and not self.settings.manager_pin_hash

    def pin_needed(self, action: str) -> bool:
        """Does ``action`` (settings, quit) wait for the manager PIN now?"""
        locked = self.kiosk and bool(self.settings.manager_pin_hash)
        return locked and not self.unlocked.allows(action)

    def ask_pin(self, action: str, message: str = "") -> None:
        assert self.window is not None
        self.window.load(self.local.url("pin.html", then=action, message=message))

    def unlock(self, pin: str, action: str) -> kiosk.PinAnswer:
        """The manager PIN typed on the PIN page: when right, do ``action``."""
        if action not in PIN_ACTIONS:
            return kiosk.PinAnswer(False, message=_("Nothing to unlock."))
        answer = self.pin.try_pin(pin)
        if not answer.ok:
            log.warning("kiosk: wrong manager PIN for %s (locked %d s)", action, answer.wait_s)
            return answer
        log.info("kiosk: manager PIN given for %s", action)
        self.unlocked = kiosk.Unlock.now_for(action)
        assert self.window is not None
        if action == "settings":
            expiry = threading.Timer(kiosk.UNLOCK_S, self._unlock_expired, (self.unlocked,))
            expiry.daemon = True
            expiry.start()
            self.show_setup()
        else:
            self.window.destroy()
        return answer

    def _unlock_expired(self, unlocked: kiosk.Unlock) -> None:
        """A setup screen left open after the PIN goes back to the POS when the unlock
        expires (unless the POS showed meanwhile, which ended that unlock already)."""
        if self.unlocked is unlocked:
            log.info("kiosk: the manager PIN's unlock expired; back to the POS")
            self.open_pos()

    def _on_closing(self) -> bool:
        """A close (the menu's Quit, Alt+F4, the window manager) on a kiosk waits for the
        manager PIN; then, as everywhere, for the unsent changes check."""
        assert self.guard is not None
        if self.guard.allowed or not self.pin_needed("quit"):
            return self.guard.on_closing()
        threading.Thread(target=self.ask_pin, args=("quit",), daemon=True).start()
        return False

    # ------------------------------------------------------------------ settings

    def follow_user_language(self, lang: str) -> None:
        """The Odoo user's language, read at login: the app's from now on, and kept in the
        settings for the next start (before any login)."""
        if not lang:
            return
        i18n.use(lang)
        if lang != self.settings.lang:
            self.settings = replace(self.settings, lang=lang)
            if self.settings.is_complete():
                settings_mod.save(self.settings)

    def apply_settings(self, new: Settings, secret: str) -> None:
        """Settings saved on the setup page (their password already stored): keep them,
        restart the agent with them and open the POS."""
        same_server = (new.server_url, new.database) == (
            self.settings.server_url,
            self.settings.database,
        )
        new.pos_loaded_once = same_server and self.settings.pos_loaded_once
        same_pos = same_server and new.config_id == self.settings.config_id
        new.server_kiosk = same_pos and self.settings.server_kiosk
        settings_mod.save(new)
        self.settings, self.secret = new, secret
        self.watch = ServerWatch(new.server_url, new.tls())
        self._show_tls()
        self.start_agent()
        threading.Thread(target=self.open_pos, daemon=True).start()
