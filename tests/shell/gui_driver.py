"""Runs the real app (window, injection, real agent) against the stand-in Odoo, in a scenario,
and prints one ``RESULT {json}`` line per check. Run by tests/shell/test_window.py in a
subprocess with a timeout, so a Qt hang can never hang pytest; also used to take the
screenshots in docs/screenshots (``--shots DIR`` under Xvfb).

    python -m tests.shell.gui_driver pos|print|offline|no-addon|setup [--shots DIR]
    python -m tests.shell.gui_driver real-odoo --server URL --db DB --login L \
        --password P --config-id N [--shots DIR]
    python -m tests.shell.gui_driver real-odoo-enrol --enrolment LINE --login L \
        --password P [--shots DIR]

``real-odoo`` runs against a real Odoo instead (tests/realodoo/test_shell_on_odoo.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devkit.ports import free_port
from devkit.pos_page import PAGE_JS  # window.posPage: edits through the POS store
from shell import odoo_probe
from shell import settings as settings_mod
from shell.browser import NOT_RUN
from shell.window import prepare_qt_env

SCENARIO_TIMEOUT_S = 90.0
# A real POS loads and compiles its assets; on a busy machine that takes a while.
REAL_ODOO_TIMEOUT_S = 420.0
POS_LOAD_TIMEOUT_S = 150.0
STARTED = time.monotonic()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Driver:
    """Checks made from a scenario thread while the app's window runs."""

    def __init__(self, shots: Path | None) -> None:
        self.shots = shots
        self.failed = False
        # Removed when the driver goes, with the process (one per scenario).
        self.pdf_dir = tempfile.TemporaryDirectory(prefix="possync-print-")
        self.pdf = Path(self.pdf_dir.name) / "receipt.pdf"
        self.print_on_gui_thread: list[bool] = []
        self.confirm_answers: list[bool] = []
        self.confirm_messages: list[str] = []
        self.app: Any = None
        # One entry per page load the app acted on: its address (as the browser reports
        # it) and what the injection said (None: the app logged in there instead).
        self.loads: list[dict[str, Any]] = []
        # Every script the window ran, in any page, in order; and the driver's own.
        self.scripts: list[str] = []
        self.own_scripts: set[str] = set()

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        self.failed |= not ok
        result = {"check": name, "ok": bool(ok), "detail": str(detail),
                  "at_s": round(time.monotonic() - STARTED, 2)}
        print("RESULT " + json.dumps(result), flush=True)
        return ok

    def js(self, script: str) -> Any:
        self.own_scripts.add(script)
        return self.app.window.run_js(script)

    def wait_js(self, script: str, timeout: float = 20.0) -> Any:
        """Poll ``script`` until it gives a truthy value; the value, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.1)
        return None

    def wait(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        return None

    def confirm(self, title: str, message: str) -> bool:
        self.confirm_messages.append(message)
        return self.confirm_answers.pop(0) if self.confirm_answers else True

    def print_to_pdf(self, _parent: Any) -> Any:
        """The test's printer: a PDF file, a real output that can be read back."""
        from qtpy.QtPrintSupport import QPrinter

        self.print_on_gui_thread.append(threading.current_thread() is threading.main_thread())
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(self.pdf))
        return printer

    def printed_receipt(self) -> bool:
        """Does the printed PDF show the receipt? Qt prints pages as images (no text to
        read back), so the receipt is a block of a colour nothing else on the page has."""
        from qtpy.QtCore import QSize
        from qtpy.QtPdf import QPdfDocument

        document = QPdfDocument(None)
        if not self.pdf.exists() or document.load(str(self.pdf)) != QPdfDocument.Error.None_:
            return False
        image = document.render(0, QSize(300, 400))
        pixels = (image.pixelColor(x, y) for x in range(0, 300, 5) for y in range(0, 400, 5))
        return any(c.red() > 200 and c.green() < 60 and c.blue() < 60 for c in pixels)

    def record_loads(self) -> None:
        """Note each load the app acts on (an automatic login, or an injection and its
        answer: "injected", "already", "skipped", "not-run") and every script any page
        was given, with the origin the browser showed when it was sent."""
        app, window = self.app, self.app.window
        window.browser_ready.wait(10)
        browser, native = window.browser, window.native
        auto_login, run_at = app._auto_login, browser.run_at
        run_js, evaluate_js = native.run_js, native.evaluate_js

        def note(injection: Any) -> None:
            href = window.current_url() or ""
            path = "/" + href.split("://", 1)[-1].partition("/")[2]
            self.loads.append({"href": href, "path": path, "injection": injection})

        def recording_login() -> None:
            note(None)
            auto_login()

        def recording_run_at(origin: str, script: str, *args: Any) -> Any:
            value = run_at(origin, script, *args)
            if value != NOT_RUN:
                self.scripts.append(script)
            if "__possyncInjected" in script:
                note(value)
            return value

        def recording_run_js(script: str) -> Any:
            self.scripts.append(script)
            return run_js(script)

        def recording_evaluate_js(script: str, *args: Any, **kwargs: Any) -> Any:
            self.scripts.append(script)
            return evaluate_js(script, *args, **kwargs)

        app._auto_login, browser.run_at = recording_login, recording_run_at
        native.run_js, native.evaluate_js = recording_run_js, recording_evaluate_js

    def has_icon(self) -> bool:
        return not self.app.window.native.native.windowIcon().isNull()

    def shot(self, name: str) -> None:
        if self.shots is None:
            return
        # No window manager under Xvfb: pywebview's centring leaves the menu bar above
        # the screen's edge.
        self.app.window.native.move(0, 0)
        time.sleep(0.8)  # let the page paint
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        if shutil.which("import"):
            subprocess.run(["import", "-window", "root", str(path)], check=True)
            return
        # Without ImageMagick: Qt grabs the (Xvfb) screen itself, on the GUI thread.
        from qtpy.QtWidgets import QApplication

        def grab() -> bool:
            screen = QApplication.primaryScreen()
            return bool(screen and screen.grabWindow(0).save(str(path)))

        self.check(f"screenshot {name}", self.app.window.browser.gui.call(grab))


# ---------------------------------------------------------------------------- scenarios

# Loaded, not only begun: a script run while the page is still parsed finds no body.
ON_POS = (
    "location.pathname.indexOf('/pos/ui') === 0 && !!window.possync"
    " && document.readyState === 'complete'"
)
CONNECTED = "!!(window.possync && window.possync.state.connected)"


def scenario_pos(d: Driver) -> None:
    """Auto-login, injection with the right token, exactly once, re-injection after a
    reload, agent supervision, the close guard."""
    app = d.app
    d.check("auto-login reaches the POS", d.wait_js(ON_POS))
    d.check("the addon stand-in got the agent and its token", d.wait_js(CONNECTED))
    agent = json.loads(d.js("JSON.stringify(window.possyncAgent)") or "{}")
    port = app.supervisor.listening.page_port
    d.check("token and address are this launch's",
            agent == {"url": f"ws://127.0.0.1:{port}/page", "token": app.page_token}, agent)
    app.inject()  # a second `loaded` for the same document must change nothing
    d.check("injected exactly once per page load", d.js("window.__agentEvents") == 1,
            d.js("window.__agentEvents"))
    d.shot("pos")

    d.js("window.__beforeReload = true; location.reload(); true")
    d.check("reload: a new document", d.wait_js(f"!window.__beforeReload && {CONNECTED}"))
    d.check("reload: injected again, once", d.js("window.__agentEvents") == 1)

    first_pid = app.supervisor.listening.pid
    os.kill(first_pid, signal.SIGKILL)
    back = d.wait(lambda: app.supervisor.listening.pid != first_pid and app.agent_status())
    d.check("a killed agent comes back on the same port",
            back and app.supervisor.listening.page_port == port, app.supervisor.restarts)

    d.js("window.possync.setPending(2); true")
    d.confirm_answers[:] = [False, True]
    app.window.destroy()  # the user closes the window
    d.wait(lambda: d.confirm_messages, timeout=10)
    time.sleep(0.5)
    d.check("closing with unsent changes asks first",
            d.confirm_messages and d.confirm_messages[0].startswith("2 changes"),
            d.confirm_messages)
    d.check("declining keeps the window open", d.js("1 + 1") == 2)
    d.agent_pid = app.supervisor.listening.pid  # type: ignore[attr-defined]
    app.window.destroy()  # closes: the second answer is yes


RECEIPT = """document.body.insertAdjacentHTML('beforeend',
  '<div style="background:#e00;height:200px">Receipt 0042</div>');
setTimeout(function () { window.print(); }, 0); true"""


def scenario_print(d: Driver) -> None:
    """A receipt printed as Odoo prints without a receipt printer (window.print()) reaches
    the printer: here a PDF file."""
    d.check("POS page loads", d.wait_js(ON_POS))
    d.check("the window shows the possync icon", d.has_icon())
    d.js(RECEIPT)
    d.check("the receipt was printed", d.wait(d.printed_receipt, timeout=30))
    d.check("the printer was chosen on the GUI thread, once",
            d.print_on_gui_thread == [True], d.print_on_gui_thread)
    d.app.window.destroy()


def scenario_no_addon(d: Driver) -> None:
    """A POS page without the addon's script gets the clear banner."""
    d.check("POS page loads", d.wait_js("location.pathname.indexOf('/pos/ui') === 0"))
    banner = d.wait_js("(document.getElementById('possync-banner') || {}).textContent", 10)
    d.check("banner says the addon is missing",
            banner and "pos_restaurant_sync addon not installed on the server" in banner, banner)
    d.check("the agent was still handed over", d.js("!!window.possyncAgent"))
    d.app.window.destroy()


def scenario_offline(d: Driver, start_server: Callable[[], None]) -> None:
    """Server down at start: the local page with the agent's status, then the POS once
    the server answers."""
    on_offline = "location.pathname === '/offline.html' && location.search === ''"
    d.check("offline page shown", d.wait_js(on_offline))
    agent = d.wait_js("document.getElementById('agent').textContent.indexOf('running') === 0")
    d.check("offline page shows the agent running", agent)
    d.shot("offline")
    start_server()
    d.check("switches to the POS when the server answers", d.wait_js(ON_POS, 20))
    d.check("and injects there", d.wait_js(CONNECTED))
    d.app.window.destroy()


STORE = """new Promise(function (done) {
  localStorage.setItem('possync-test', 'kept');
  var open = indexedDB.open('possync-test', 1);
  open.onupgradeneeded = function () { open.result.createObjectStore('orders'); };
  open.onsuccess = function () {
    var tx = open.result.transaction('orders', 'readwrite');
    tx.objectStore('orders').put({uuid: 'o1', lines: 2}, 'o1');
    tx.oncomplete = function () { window.__stored = true; };
  };
}); true"""
READ_BACK = """window.__read = null; (function () {
  var open = indexedDB.open('possync-test', 1);
  open.onupgradeneeded = function () { open.result.createObjectStore('orders'); };
  open.onsuccess = function () {
    var get = open.result.transaction('orders').objectStore('orders').get('o1');
    get.onsuccess = function () {
      window.__read = JSON.stringify({local: localStorage.getItem('possync-test'),
                                      order: get.result || null});
    };
  };
})(); true"""


def scenario_storage_write(d: Driver) -> None:
    """First launch: the POS keeps an order in IndexedDB, like Odoo's offline orders."""
    d.check("POS page loads", d.wait_js(ON_POS))
    d.js(STORE)
    d.check("stored in local storage and IndexedDB", d.wait_js("window.__stored"))
    d.app.window.destroy()


def scenario_storage_read(d: Driver) -> None:
    """Second launch: what the first one stored is still there."""
    d.check("POS page loads", d.wait_js(ON_POS))
    d.js(READ_BACK)
    read = json.loads(d.wait_js("window.__read") or "{}")
    d.check("storage survived the restart",
            read == {"local": "kept", "order": {"uuid": "o1", "lines": 2}}, read)
    d.app.window.destroy()


def setup_connect(d: Driver, server_url: str) -> None:
    """The setup screen's step 1: the server's address, Connect, its databases listed."""
    d.js(f"document.getElementById('server_url').value = {json.dumps(server_url)}; "
         "document.getElementById('connect').click(); true")
    d.check("databases listed", d.wait_js("document.getElementById('database').value"))


def setup_log_in(d: Driver, password: str) -> Any:
    """Step 2 as the waiter with ``password``; what the page then says under Login."""
    d.js("document.getElementById('login').value = 'waiter';"
         f"document.getElementById('password').value = {json.dumps(password)};"
         "document.getElementById('do_login').click(); true")
    return d.wait_js("document.getElementById('login_note').textContent")


def scenario_setup(d: Driver, server_url: str) -> None:
    """First run: the setup screen, filled in as a user would, opens the POS."""
    d.check("setup screen shown", d.wait_js("document.body.dataset.ready === '1'"))
    d.check("the setup window shows the possync icon", d.has_icon())
    setup_connect(d, server_url)
    refused = setup_log_in(d, "wrong")
    d.check("a wrong password is explained", refused and "refused" in refused, refused)
    d.js("document.getElementById('password').value = 'waiter-pw';"
         "document.getElementById('do_login').click(); true")
    d.check("POS configurations listed", d.wait_js("document.getElementById('config').value"))
    d.js("document.getElementById('test').click(); true")
    d.check("test connection passes", d.wait_js(
        "document.querySelectorAll('#results li.pass').length === 5"))
    d.shot("setup")
    too_long = "x" * 1281  # over what Windows' Credential Manager keeps
    d.js(f"document.getElementById('password').value = '{too_long}';"
         "document.getElementById('save').click(); true")
    note = d.wait_js("document.getElementById('save_note').textContent")
    d.check("a password too long to store is explained", note and "too long" in note, note)
    d.check("and the form is kept", d.js("document.getElementById('password').value.length")
            == len(too_long) and not settings_mod.settings_file().exists())
    d.js("document.getElementById('password').value = 'waiter-pw';"
         "document.getElementById('save').click(); true")
    d.check("save opens the POS", d.wait_js(ON_POS))
    d.check("with the agent handed over", d.wait_js(CONNECTED))
    saved = settings_mod.load()
    d.check("settings saved", saved.is_complete() and saved.config_id == 2, saved)
    d.check("password in the keyring, not in a file",
            d.app.credentials.get(saved) == "waiter-pw"
            and not (settings_mod.settings_file().parent / "password.json").exists())
    d.app.window.destroy()


def scenario_setup_french(d: Driver, server_url: str) -> None:
    """A French system and a French Odoo user: the setup page, its messages from Python
    and the check names all in French."""
    d.check("setup screen shown", d.wait_js("document.body.dataset.ready === '1'"))
    title = d.js("document.querySelector('h1').textContent")
    d.check("the page is in French", title == "Connecter ce terminal à Odoo", title)
    d.check("and says so", d.js("document.documentElement.lang") == "fr")
    setup_connect(d, server_url)
    note = setup_log_in(d, "waiter-pw")
    d.check("the page's own messages are French", note == "Connecté en tant que waiter.", note)
    d.check("POS configurations listed", d.wait_js("document.getElementById('config').value"))
    d.js("document.getElementById('test').click(); true")
    d.check("test connection passes", d.wait_js(
        "document.querySelectorAll('#results li.pass').length === 5"))
    results = d.js("document.getElementById('results').textContent")
    d.check("the app's messages are French", "Serveur" in results and "répond" in results,
            results)
    d.shot("setup-fr")
    d.app.window.destroy()


def scenario_setup_errors(d: Driver) -> None:
    """For the screenshot: the setup screen telling a user what is wrong."""
    d.check("setup screen shown", d.wait_js("document.body.dataset.ready === '1'"))
    d.js("document.getElementById('server_url').value = 'https://odoo.example.invalid';"
         "document.getElementById('connect').click(); true")
    d.check("wrong address explained", d.wait_js(
        "document.getElementById('server_note').textContent.indexOf('No server') === 0"))
    d.shot("setup-error")
    d.app.window.destroy()


POS_READY = (
    "location.pathname.indexOf('/pos/ui') === 0 && !!window.posmodel && !!window.possync"
)
OPEN_REGISTER = """var b = document.querySelector('.login-overlay .open-register-btn');
if (b) { b.click(); } !!b"""
SYNCED_BY_AGENT = """(function () { var s = window.possync.status();
  return s.transport === 'agent' && s.state === 'synced' && JSON.stringify(s); })()"""
# The navbar indicator's update arrow, and its tooltip (the details' lines).
INDICATOR_UPDATE = "!!document.querySelector('.possync-indicator .possync-update')"
INDICATOR_TITLE = """(function () { var b = document.querySelector('.possync-indicator');
  return b ? b.title : 'no indicator'; })()"""
COUNT_AGENT_EVENTS = """window.__agentEventsSince = 0;
window.addEventListener('possync:agent', function () { window.__agentEventsSince += 1; });
true"""
# One new order on a table, one line of a sellable product, through window.posPage.
EDIT = """window.__edit = null; (async function () {
  var c = window.posPage.catalog(), product = c.products[0], table = c.tables[0];
  var order = window.posPage.newOrder(table);
  var line = await window.posPage.addLine(order, product.id, product.price);
  window.__edit = JSON.stringify({order: order, line: line, table: table,
                                  product: product.id, price: product.price});
})().catch(function (e) { window.__edit = JSON.stringify({error: String(e)}); }); true"""


def real_odoo_settings(args: argparse.Namespace) -> settings_mod.Settings:
    """The settings as the setup screen saves them: the version read from the server."""

    async def major() -> int:
        async with odoo_probe.OdooProbe(args.server) as probe:
            return (await probe.server()).major

    url = settings_mod.normalize_server_url(args.server)
    return settings_mod.Settings(url, args.db, args.login, args.config_id, "Restaurant",
                                 odoo_major=odoo_probe.run(major()))


def cli_json(*argv: str) -> Any:
    """Run a `possync` command in its own process, as a person would, and read its JSON."""
    done = subprocess.run([sys.executable, "-m", "shell.cli", *argv],
                          capture_output=True, text=True, timeout=60)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"exit": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-500:]}


def agent_drained(status: Any) -> Any:
    """The agent's status once nothing waits for the server and the server answers."""
    ok = isinstance(status, dict) and status.get("pending") == 0
    return status if ok and (status.get("server") or {}).get("reachable") else None


def scenario_real_odoo(d: Driver) -> None:
    """The app on a real Odoo: logs in, opens the POS in the version's URL form, hands the
    addon's script the agent once, and an edit in the POS reaches Odoo through the agent."""
    from shell import doctor

    app = d.app
    settings = app.settings
    d.check("the POS runs in the app", d.wait_js(POS_READY, POS_LOAD_TIMEOUT_S),
            d.js("location.href"))

    def pos_page_loads() -> list[dict[str, Any]]:
        return [load for load in d.loads if load["path"].startswith("/pos/ui")]

    # The app injects from its `loaded` handler, which may finish after the POS started.
    d.wait(lambda: pos_page_loads() and pos_page_loads()[-1]["injection"], 20)
    pos_loads = pos_page_loads()
    d.check("Odoo's login page came first and the app logged in by itself (by cookie)",
            any(load["path"].startswith("/web/login") for load in logins(d))
            and not password_in_any_script(d, app.secret or "no password read")
            and not d.js("!!document.querySelector('input[name=password]')"),
            [load["path"] for load in d.loads])
    d.check("opened at the URL the app computes for this version",
            pos_loads and pos_loads[0]["href"] == settings.pos_url(),
            json.dumps({"odoo_major": settings.odoo_major, "pos_url": settings.pos_url(),
                        "loaded": [load["href"] for load in pos_loads]}))
    d.check("the POS page load was injected exactly once",
            [load["injection"] for load in pos_loads] == ["injected"], pos_loads)
    agent = json.loads(d.js("JSON.stringify(window.possyncAgent || null)") or "null")
    port = app.supervisor.listening.page_port
    d.check("window.possyncAgent is this launch's agent",
            agent == {"url": f"ws://127.0.0.1:{port}/page", "token": app.page_token}, agent)
    d.js(COUNT_AGENT_EVENTS)
    app.inject()  # another `loaded` for the same document must change nothing
    d.check("a second injection of the same page does nothing",
            d.js("window.__agentEventsSince") == 0 and d.loads[-1]["injection"] == "already",
            d.loads[-1])
    status = d.wait_js(SYNCED_BY_AGENT, 60)
    d.check("the addon's sync client runs through the agent, synced", status,
            d.js("JSON.stringify(window.possync.status())"))
    agent_status = d.wait(app.agent_status, 20) or {}
    d.check("the page and the agent are one terminal",
            d.js("window.possync.terminal()") == agent_status.get("terminal"),
            agent_status.get("terminal"))
    # The test raised the server's newest app version (a system parameter): the agent read
    # it from /info, and the indicator shows the update with what to do.
    app_seen = d.wait(lambda: ((app.agent_status() or {}).get("app") or {}).get("cause"), 30)
    d.check("the agent read the app versions from the server's /info", app_seen,
            json.dumps((app.agent_status() or {}).get("app")))
    d.check("the indicator shows the update and what to do", d.wait_js(INDICATOR_UPDATE, 30),
            d.js(INDICATOR_TITLE))

    d.js(OPEN_REGISTER)
    d.check("the floor plan shows", d.wait_js("!!document.querySelector('.floor-map')", 60))
    d.js(PAGE_JS.read_text(encoding="utf-8"))
    d.check("the POS store is ready for edits", d.wait_js("window.posPage.ready()", 30))
    d.js(EDIT)
    edit = json.loads(d.wait_js("window.__edit", 60) or "{}")
    d.check("edit made in the app's POS", edit.get("line"), json.dumps(edit))
    d.check("the page handed it to the agent",
            d.wait_js("window.possync.pendingCount() === 0", 60) is True)
    drained = d.wait(lambda: agent_drained(cli_json("status", "--json")), 60)
    d.check("possync status --json: the agent's outbox drained to 0", drained,
            json.dumps(drained or cli_json("status", "--json")))
    d.shot(f"pos-odoo{settings.odoo_major}")

    # In this process: the in-memory keyring holding the password is this process's.
    results = doctor.run(settings_mod.load())
    outcomes = {result.name: result.outcome for result in results}
    d.check("possync doctor passes server, login, addon and websocket",
            all(outcomes.get(n) == "PASS" for n in ("Server", "Login", "Addon", "Websocket")),
            " | ".join(line for result in results for line in result.lines()))
    d.check("possync doctor warns of the update",
            outcomes.get("Update") == "WARN",
            " | ".join(line for result in results if result.name == "Update"
                       for line in result.lines()))
    d.check("the POS's kiosk setting was read from the server",
            # An event, not a speed: the app asks again after a failure that may pass.
            app.server_kiosk_read.wait(90),
            json.dumps({"server_kiosk": settings_mod.load().server_kiosk}))
    app.window.destroy()  # nothing unsent: closes without asking
    d.wait(lambda: d.confirm_messages, timeout=3)
    d.check("closing asked nothing (nothing unsent)", not d.confirm_messages, d.confirm_messages)


def scenario_enrol(
    d: Driver, enrolment: str, login: str, password: str, pos_ready: str = ON_POS,
    shots: str = "enrol",
) -> None:
    """First run: the QR code's line scanned into the code field, the login typed once,
    and the POS opens logged in (``pos_ready``: how this server's POS page says so)."""
    d.check("setup screen shown", d.wait_js("document.body.dataset.ready === '1'"))
    # A 2D scanner types the line into the focused field, then Enter.
    d.js("var f = document.getElementById('enrol_code'); f.focus();"
         f"f.value = {json.dumps(enrolment)}; f.dispatchEvent(new Event('input')); true")
    d.shot(f"{shots}-code")
    d.js("document.getElementById('enrol_code').dispatchEvent("
         "new KeyboardEvent('keydown', {key: 'Enter'})); true")
    enrolled = d.wait_js("document.body.classList.contains('enrolled') && "
                         "document.getElementById('enrol_note').textContent", 60)
    d.check("the code enrolled this terminal", enrolled,
            enrolled or d.js("document.getElementById('enrol_note').textContent"))
    saved = settings_mod.load()
    d.check("the server, database and POS are saved before the login",
            saved.server_url and saved.database and saved.config_id and not saved.login, saved)
    d.js(f"document.getElementById('login').value = {json.dumps(login)}; true")
    d.shot(f"{shots}-login")
    d.js(f"document.getElementById('password').value = {json.dumps(password)};"
         "document.getElementById('password').dispatchEvent("
         "new KeyboardEvent('keydown', {key: 'Enter'})); true")
    d.check("the POS runs in the app", d.wait_js(pos_ready, POS_LOAD_TIMEOUT_S),
            d.js("location.href"))
    d.check("logged in: no login form",
            not d.js("!!document.querySelector('input[name=password]')"))
    saved = settings_mod.load()
    d.check("settings complete, the password in the keyring",
            saved.is_complete() and saved.login == login
            and d.app.credentials.get(saved) == password,
            json.dumps({"config_id": saved.config_id, "pos_url": saved.pos_url()}))
    d.app.window.destroy()


# ---------------------------------------------------------------------------- attacks

NOT_ON_SERVER = "possync did not open"


def password_in_any_script(d: Driver, password: str) -> list[str]:
    """Every script the app (or pywebview) gave any page that holds the password (must
    stay empty); the driver's own scripts do not count. A value enters a script as a JSON
    literal; a short password (real Odoo's demo "admin") is only looked for as one, as it
    is a word of the app's own texts ("administrator")."""
    marks = [json.dumps(password)] + ([password] if len(password) >= 8 else [])
    mine = [s for s in d.scripts if s not in d.own_scripts]
    return [s[:80] for s in mine if any(mark in s for mark in marks)]


def logins(d: Driver) -> list[dict[str, Any]]:
    """The automatic logins the app made (loads where it logged in, not injected)."""
    return [load for load in d.loads if load["injection"] is None]


def browser_url(d: Driver) -> str:
    return d.app.window.current_url() or ""


def scenario_cookie_login(d: Driver, server: Any, password: str) -> None:
    """The app logs in from Python and hands the session to the cookie store: the POS
    opens, the login page never got the password, the cookie is out of page scripts'
    reach, and an expired session is renewed the same way."""
    app = d.app
    d.check("logged in by cookie: the POS runs", d.wait_js(ON_POS))
    d.check("the login page came first (the app logged in there)",
            # Qt may report one load of the login page twice; every one is the login page.
            {load["path"][:10] for load in logins(d)} == {"/web/login"}, d.loads)
    d.check("no script given to any page holds the password",
            not password_in_any_script(d, password), password_in_any_script(d, password))
    d.check("the session cookie is HttpOnly: no page script reads it",
            "session_id" not in (d.js("document.cookie") or ""), d.js("document.cookie"))
    d.check("the agent is handed over on the server's page", d.wait_js(CONNECTED))
    server.forget_sessions()
    before = len(logins(d))
    d.js("location.reload(); true")
    d.check("an expired session: back on the login page, logged in again, the POS runs",
            d.wait(lambda: len(logins(d)) > before)
            and d.wait_js(ON_POS), d.loads)
    d.check("still no script with the password", not password_in_any_script(d, password))
    app.window.destroy()


def scenario_navigation(d: Driver, hostile: Any) -> None:
    """Top-level navigation to another origin is refused with a notice, whoever asks:
    a script, a link, the app itself."""
    app = d.app
    server_origin = app.settings.server_origin()
    d.check("POS page loads", d.wait_js(ON_POS))
    evil = f"{hostile.url}/web/login"
    d.js(f"location.href = {json.dumps(evil)}; true")
    refused = d.wait(lambda: app.window.browser.state.refusals, 10)
    d.check("a script's navigation to another origin is refused",
            refused and refused[0].url.startswith(hostile.url), refused)
    time.sleep(1.0)
    d.check("the window stays on the server", browser_url(d).startswith(server_origin),
            browser_url(d))
    notices = app.window.browser.notices()
    d.check("a notice says what was refused",
            NOT_ON_SERVER in notices.get("refused", "") and hostile.url in notices["refused"],
            notices)
    d.shot("navigation-refused")
    d.js(f"""var a = document.createElement('a'); a.href = {json.dumps(evil + "?via=link")};
         document.body.appendChild(a); a.click(); true""")
    d.check("a link to another origin is refused",
            d.wait(lambda: len(app.window.browser.state.refusals) >= 2, 10))
    app.window.load(evil + "?via=app")
    d.check("a load the app itself asks for is refused too",
            d.wait(lambda: len(app.window.browser.state.refusals) >= 3, 10))
    time.sleep(1.0)
    d.check("the other origin never received a request", hostile.requests == [],
            hostile.requests)
    d.check("still on the POS", d.js(ON_POS) is True, browser_url(d))
    app.window.destroy()


def scenario_hostile(d: Driver, hostile: Any, password: str) -> None:
    """A page on another origin dressed as the server's login page (it fakes what a page
    can: JSON.stringify, its path) gets nothing: no login, no password, no agent token.
    The allow-list is opened for it on purpose: the app's own checks must hold alone."""
    app = d.app
    d.check("POS page loads", d.wait_js(ON_POS))
    logins_before = len(logins(d))
    origins = app.window.browser.policy.allowed_origins
    app.window.browser.policy.allowed_origins = lambda: [*origins(), hostile.url]
    scripts_before = len(d.scripts)
    app.window.load(f"{hostile.url}/web/login")
    d.check("the hostile page is shown", d.wait_js("window.__hostile === true", 15),
            browser_url(d))
    d.check("the browser knows where it is", browser_url(d).startswith(hostile.url),
            browser_url(d))
    time.sleep(2.0)  # the app's `loaded` handler has run meanwhile
    d.check("no automatic login on a page that only claims to be the login page",
            len(logins(d)) == logins_before,
            d.loads)
    d.check("the page faking its origin got no injection",
            d.js("window.possyncAgent === undefined && !window.__possyncInjected") is True)
    app.inject()  # as if another `loaded` came: still nothing
    time.sleep(0.5)
    d.check("not even when the app is asked to inject",
            d.js("window.possyncAgent === undefined") is True)
    given = d.scripts[scripts_before:]
    d.check("no script sent while it was shown holds the password or the agent token",
            not [s for s in given if password in s or app.page_token in s],
            [s[:80] for s in given])
    d.check("the hostile site received neither the password nor the token",
            not hostile.received(password) and not hostile.received(app.page_token)
            and not [r for r in hostile.requests if r["path"] == "/leak"],
            hostile.requests)
    d.check("no script given to any page ever held the password",
            not password_in_any_script(d, password))
    app.window.destroy()


def scenario_insecure(d: Driver) -> None:
    """allow_insecure_http with a server on another computer: a red notice on the window,
    there for good (reloads, the setup screen), and on the setup screen itself."""
    app = d.app
    d.check("POS page loads over plain http", d.wait_js(ON_POS))
    notice = d.wait(lambda: app.window.browser.notices().get("insecure"), 10) or ""
    d.check("a red notice says the connection is insecure",
            notice.startswith("INSECURE") and app.settings.server_origin() in notice, notice)
    d.shot("insecure-pos")
    d.js("location.reload(); true")
    time.sleep(1.0)
    d.check("it stays after a reload", d.wait_js(ON_POS)
            and app.window.browser.notices().get("insecure") == notice)
    d.js("var b = document.getElementById('possync-insecure'); if (b) b.remove(); true")
    d.check("no page script can remove it (it is not in the page)",
            app.window.browser.notices().get("insecure") == notice)
    app.show_setup()
    on_setup = "document.body.dataset.ready === '1'"
    d.check("the setup screen shows it too", d.wait_js(on_setup) and d.wait_js(
        "document.getElementById('insecure_note').textContent.indexOf('Insecure') === 0"))
    d.check("and the window's notice is still there",
            app.window.browser.notices().get("insecure") == notice)
    d.shot("insecure-setup")
    app.window.destroy()


def scenario_tls(d: Driver, trusted: bool) -> None:
    """A server with its own certificate authority, trusted through the CA file chosen at
    setup: the window, the app's probe and the agent all reach it over TLS. With another
    authority's file, the window refuses the server."""
    app = d.app
    if not trusted:
        d.check("the app's own check refuses the server",
                d.wait(lambda: "not trusted" in app.watch.message, 20), app.watch.message)
        d.check("and waits on the local page",
                d.wait_js("location.pathname === '/offline.html' && location.search === ''"))
        app.window.load(app.settings.pos_url())  # the window tries anyway
        refused = d.wait(lambda: app.window.browser.state.refusals, 30)
        d.check("the window refuses a certificate the CA file does not vouch for",
                refused and "certificate" in refused[0].why, refused)
        d.check("and never opens the POS", not d.js(ON_POS))
        d.check("the failed load (the browser's own record) brings the local page back",
                d.wait_js("location.pathname === '/offline.html'", 15)
                and app.window.browser.state.last_load.url.startswith("http://127.0.0.1"),
                app.window.browser.state.last_load)
        d.shot("tls-refused")
        app.window.destroy()
        return
    d.check("the POS opens over https", d.wait_js(ON_POS, 30)
            and browser_url(d).startswith("https://"), browser_url(d))
    d.check("the web view accepted the certificate through the CA file",
            app.window.browser.state.accepted_certificates, app.window.browser.state)
    d.check("the page has the agent", d.wait_js(CONNECTED))
    status = d.wait(lambda: (app.agent_status() or {}).get("server", {}).get("reachable"), 30)
    d.check("the agent reaches the server over TLS with the CA file", status,
            app.agent_status())
    d.check("the app's own checks reach it too", app.watch.check(max_age=0), app.watch.message)
    app.window.destroy()


KIOSK_PIN = "2468"
ON_PIN = "location.pathname === '/pin.html' && document.body.dataset.ready === '1'"


def type_pin(d: Driver, pin: str) -> None:
    """Tap the PIN page's keypad, as a manager's finger would."""
    keys = [*pin, "ok"]
    d.js("var keys = " + json.dumps(keys) + "; keys.forEach(function (k) {"
         " document.querySelector('[data-key=\"' + k + '\"]').click(); }); true")


def kiosk_window(d: Driver) -> dict[str, Any]:
    """The Qt window's own record: its flags, full screen, and the screen it covers."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QMainWindow

    native = d.app.window.native.native

    def read() -> dict[str, Any]:
        # pywebview's window shadows some QMainWindow names (geometry): ask Qt's own.
        geometry = QMainWindow.geometry(native)
        screen = QMainWindow.screen(native).geometry()
        tops = [top.menu() for top in native.menuBar().actions() if top.menu()]
        menus = [action.text() for menu in tops for action in menu.actions()]
        return {
            "frameless": bool(native.windowFlags() & Qt.WindowType.FramelessWindowHint),
            "fullscreen": native.isFullScreen(),
            "covers_screen": geometry == screen,
            "geometry": geometry.getRect(), "screen": screen.getRect(),
            "menu": menus,
        }

    return d.app.window.browser.gui.call(read)


def press_escape_keys(d: Driver) -> None:
    """The keys people try to leave a full-screen app with, sent to the web view."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    view = d.app.window.native.native.webview
    none, ctrl, alt = (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier,
                       Qt.KeyboardModifier.AltModifier)
    keys = [(Qt.Key.Key_F11, none), (Qt.Key.Key_Escape, none), (Qt.Key.Key_Q, ctrl),
            (Qt.Key.Key_W, ctrl), (Qt.Key.Key_F4, alt), (Qt.Key.Key_F4, ctrl)]

    def press() -> None:
        target = view.focusProxy() or view
        for key, modifier in keys:
            QTest.keyClick(target, key, modifier)

    d.app.window.browser.gui.call(press)


def scenario_kiosk(d: Driver) -> None:
    """A kiosk (started as `possync --kiosk` is): full screen without a frame, only the
    POS, and Settings and Quit only after the manager PIN."""
    app = d.app
    d.check("POS page loads", d.wait_js(ON_POS, 30))
    window = d.wait(lambda: (w := kiosk_window(d))["covers_screen"] and w, 10) or kiosk_window(d)
    d.check("the window is full screen without a frame",
            window["frameless"] and window["fullscreen"] and window["covers_screen"], window)
    d.check("the menu cannot leave full screen",
            "Full screen" not in window["menu"] and "Quit" in window["menu"], window["menu"])
    d.shot("kiosk-pos")
    refusals = app.window.browser.state.refusals
    d.js("location.href = '/odoo/action-point_of_sale.action_client_pos_menu'; true")
    d.check("the back office is refused",
            d.wait(lambda: refusals and "kiosk" in refusals[-1].why, 10), refusals)
    d.js("window.open('/odoo', '_blank'); true")
    d.check("a new window is refused",
            d.wait(lambda: len(refusals) >= 2 and "new windows" in refusals[-1].why, 10),
            refusals)
    d.check("still on the POS", d.wait_js(ON_POS, 5), browser_url(d))
    press_escape_keys(d)
    time.sleep(1.0)
    d.check("keyboard escapes change nothing",
            d.js(ON_POS) is True and kiosk_window(d)["fullscreen"], browser_url(d))

    app.window.destroy()  # the menu's Quit, Alt+F4 or the window manager
    d.check("closing is refused and the PIN asked for",
            d.wait_js(ON_PIN, 15) and "then=quit" in browser_url(d), browser_url(d))
    type_pin(d, "1357")
    wrong = d.wait_js("document.getElementById('pin_note').textContent === 'Wrong PIN.'", 10)
    d.check("a wrong PIN is refused on the page", wrong and d.js(ON_PIN))
    d.shot("kiosk-pin")
    d.js("document.getElementById('back').click(); true")
    d.check("back to the POS without the PIN", d.wait_js(ON_POS, 20), browser_url(d))

    app.show_setup()  # the menu's Settings…, the offline page's Settings button
    d.check("settings ask for the PIN", d.wait_js(ON_PIN, 15) and "then=settings" in browser_url(d))
    type_pin(d, KIOSK_PIN)
    d.check("the right PIN opens the settings",
            d.wait_js("location.pathname === '/setup.html' && document.body.dataset.ready === '1'"),
            browser_url(d))
    app.open_pos()  # the menu's Open POS: the PIN counts no more
    d.check("the POS again", d.wait_js(ON_POS, 20), browser_url(d))
    before = len(refusals)
    d.js("history.back(); true")  # the setup page, its UI token in its address
    d.check("history cannot bring the setup screen back",
            d.wait(lambda: len(refusals) > before and "/setup.html" in refusals[-1].url, 10)
            and d.wait_js(ON_POS, 5), refusals[before:])
    app.window.destroy()
    d.wait_js(ON_PIN, 15)
    type_pin(d, KIOSK_PIN)  # closes the window: "the right PIN quits" is checked after


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=[
        "pos", "print", "offline", "no-addon", "setup", "setup-errors", "setup-french",
        "storage-write", "storage-read", "real-odoo", "enrol", "real-odoo-enrol",
        "cookie-login", "navigation", "hostile", "insecure", "tls", "tls-wrong-ca", "kiosk",
    ])  # fmt: skip
    parser.add_argument("--shots", type=Path)
    parser.add_argument("--port", type=int, help="the stand-in Odoo's port (default: a free one)")
    tls = parser.add_argument_group("tls, tls-wrong-ca, insecure: how the stand-in Odoo listens")
    tls.add_argument("--cert", type=Path, help="the server's certificate chain and key (PEM)")
    tls.add_argument("--ca-file", type=Path, help="the CA file the app is set up with")
    tls.add_argument("--host", default="127.0.0.1", help="the address the stand-in Odoo binds")
    real = parser.add_argument_group("real-odoo: the Odoo to open")
    real.add_argument("--server")
    real.add_argument("--db")
    real.add_argument("--login")
    real.add_argument("--password")
    real.add_argument("--config-id", type=int)
    real.add_argument("--enrolment", help="real-odoo-enrol: the line the QR code holds")
    args = parser.parse_args()
    if args.shots is not None:
        os.environ.pop("QT_QPA_PLATFORM", None)  # shots need the (Xvfb) display, not offscreen
    prepare_qt_env(offscreen=args.shots is None)

    from devkit.standin_odoo import PASSWORD, Options, StandInServer
    from shell.app import App
    from shell.credentials import Credentials
    from tests.shell.hostile_site import HostileSite

    driver = Driver(args.shots)
    port = args.port or free_port()
    options = Options(addon_script=args.scenario != "no-addon")
    if args.scenario == "setup-french":
        os.environ["LANGUAGE"] = "fr_FR"  # the system's language (shell/i18n.py)
        options.user_lang = "fr_FR"
    server = StandInServer(options, port, *tls_server(args))
    configured = settings_mod.Settings(
        server.url, "restaurant", "waiter", 2, "Restaurant",
        allow_insecure_http=args.scenario == "insecure",
        server_ca_file=str(args.ca_file or ""),
    )
    if args.scenario == "kiosk":
        from shell.kiosk import clear_attempts, hash_pin

        configured.manager_pin_hash = hash_pin(KIOSK_PIN)
        clear_attempts()  # as saving a new PIN on the setup screen does
    hostile = HostileSite(configured.server_origin())
    password = PASSWORD
    if args.scenario == "real-odoo":
        configured, password = real_odoo_settings(args), args.password
    if args.scenario in ("setup", "setup-errors", "setup-french", "enrol", "real-odoo-enrol"):
        configured = settings_mod.Settings()
    else:
        settings_mod.save(configured)
        Credentials().put(configured, password)
    if args.scenario not in ("offline", "real-odoo", "real-odoo-enrol"):
        server.start()
    if args.scenario in ("navigation", "hostile"):
        hostile.start()

    driver.app = App(
        configured,
        confirm=driver.confirm,
        agent_options=["--peer-port", "0", "--no-mdns"],
        print_to=driver.print_to_pdf,
        kiosk_mode=args.scenario == "kiosk",  # as `possync --kiosk` starts it
    )
    scenarios: dict[str, Callable[[], None]] = {
        "pos": lambda: scenario_pos(driver),
        "print": lambda: scenario_print(driver),
        "no-addon": lambda: scenario_no_addon(driver),
        "offline": lambda: scenario_offline(driver, server.start),
        "setup": lambda: scenario_setup(driver, server.url),
        "setup-errors": lambda: scenario_setup_errors(driver),
        "setup-french": lambda: scenario_setup_french(driver, server.url),
        "storage-write": lambda: scenario_storage_write(driver),
        "storage-read": lambda: scenario_storage_read(driver),
        "real-odoo": lambda: scenario_real_odoo(driver),
        "enrol": lambda: scenario_enrol(
            driver, standin_enrolment(server), "waiter", password
        ),
        "real-odoo-enrol": lambda: scenario_enrol(
            driver, args.enrolment, args.login, args.password, POS_READY, "enrol-odoo"
        ),
        "cookie-login": lambda: scenario_cookie_login(driver, server, password),
        "navigation": lambda: scenario_navigation(driver, hostile),
        "hostile": lambda: scenario_hostile(driver, hostile, password),
        "insecure": lambda: scenario_insecure(driver),
        "tls": lambda: scenario_tls(driver, trusted=True),
        "tls-wrong-ca": lambda: scenario_tls(driver, trusted=False),
        "kiosk": lambda: scenario_kiosk(driver),
    }
    real_odoo = args.scenario.startswith("real-odoo")
    timeout = REAL_ODOO_TIMEOUT_S if real_odoo else SCENARIO_TIMEOUT_S
    scenario = _guarded(driver, scenarios[args.scenario], timeout)
    threading.Thread(target=scenario, daemon=True).start()
    driver.app.run()
    if args.scenario == "pos":
        driver.check("the agent stops with the app", not alive(driver.agent_pid))  # type: ignore[attr-defined]
    if args.scenario == "kiosk":
        driver.check("the right PIN quits",
                     driver.app.unlocked.action == "quit" and driver.app.guard.allowed)
    print("DONE", flush=True)
    return 1 if driver.failed else 0


def standin_enrolment(server: Any) -> str:
    """A code issued on the stand-in Odoo, as the line of its QR code."""
    from tests.addon_lib import load

    server.standin.enrolment_codes["ABCD-EFGH"] = "valid"
    return load("enrolment_code").enrolment_string(server.url, "restaurant", "ABCD-EFGH")


def tls_server(args: argparse.Namespace) -> tuple[Any, str]:
    """The stand-in Odoo's TLS context (from --cert) and the address it binds."""
    if args.cert is None:
        return None, args.host
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert)
    return context, args.host


def _guarded(
    driver: Driver, scenario: Callable[[], None], timeout: float
) -> Callable[[], None]:
    def run() -> None:
        watchdog = threading.Timer(timeout, lambda: os._exit(3))
        watchdog.daemon = True
        watchdog.start()
        try:
            driver.wait(lambda: driver.app.window is not None, 10)
            driver.record_loads()
            scenario()
        except Exception as exc:
            driver.check("scenario raised", False, repr(exc))
            driver.app.guard.force()

    return run



if __name__ == "__main__":
    sys.exit(main())
