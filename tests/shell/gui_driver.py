"""Runs the real app (window, injection, real agent) against the fake Odoo, in a scenario,
and prints one ``RESULT {json}`` line per check. Run by tests/shell/test_window.py in a
subprocess with a timeout, so a Qt hang can never hang pytest; also used to take the
screenshots in docs/screenshots (``--shots DIR`` under Xvfb).

    python -m tests.shell.gui_driver pos|print|offline|no-addon|setup [--shots DIR]
    python -m tests.shell.gui_driver real-odoo --server URL --db DB --login L \
        --password P --config-id N [--shots DIR]

``real-odoo`` runs against a real Odoo instead (tests/realodoo/test_shell_on_odoo.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shell import odoo_probe
from shell import settings as settings_mod
from shell.injection import INSPECT_JS, PageInfo
from shell.window import JS_TIMEOUT_S, prepare_qt_env

SCENARIO_TIMEOUT_S = 90.0
# A real POS loads and compiles its assets; on a busy machine that takes a while.
REAL_ODOO_TIMEOUT_S = 420.0
POS_LOAD_TIMEOUT_S = 150.0
# The end-to-end suite's waiter (window.e2e): edits through the POS store, 18 and 19.
E2E_POS_JS = Path(__file__).resolve().parents[1] / "realodoo" / "e2e" / "pos.js"
STARTED = time.monotonic()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        # One entry per page load the app saw: its address and what the injection said.
        self.loads: list[dict[str, Any]] = []

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        self.failed |= not ok
        result = {"check": name, "ok": bool(ok), "detail": str(detail),
                  "at_s": round(time.monotonic() - STARTED, 2)}
        print("RESULT " + json.dumps(result), flush=True)
        return ok

    def js(self, script: str) -> Any:
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
        from PyQt6.QtPrintSupport import QPrinter

        self.print_on_gui_thread.append(threading.current_thread() is threading.main_thread())
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(self.pdf))
        return printer

    def printed_receipt(self) -> bool:
        """Does the printed PDF show the receipt? Qt prints pages as images (no text to
        read back), so the receipt is a block of a colour nothing else on the page has."""
        from PyQt6.QtCore import QSize
        from PyQt6.QtPdf import QPdfDocument

        document = QPdfDocument(None)
        if not self.pdf.exists() or document.load(str(self.pdf)) != QPdfDocument.Error.None_:
            return False
        image = document.render(0, QSize(300, 400))
        pixels = (image.pixelColor(x, y) for x in range(0, 300, 5) for y in range(0, 400, 5))
        return any(c.red() > 200 and c.green() < 60 and c.blue() < 60 for c in pixels)

    def record_loads(self) -> None:
        """Note each load the app inspects (INSPECT_JS) and its injection's answer
        ("injected", "already", "skipped"), by watching the window's script calls."""
        window = self.app.window
        run_js = window.run_js

        def recording(script: str, timeout: float = JS_TIMEOUT_S) -> Any:
            value = run_js(script, timeout)
            if script == INSPECT_JS and (page := PageInfo.parse(value)):
                self.loads.append({"href": page.href, "path": page.path, "injection": None})
            elif "__possyncInjected" in script and self.loads:
                self.loads[-1]["injection"] = value
            return value

        window.run_js = recording

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
        subprocess.run(["import", "-window", "root", str(self.shots / f"{name}.png")], check=True)


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


def scenario_setup(d: Driver, server_url: str) -> None:
    """First run: the setup screen, filled in as a user would, opens the POS."""
    d.check("setup screen shown", d.wait_js("document.body.dataset.ready === '1'"))
    d.check("the setup window shows the possync icon", d.has_icon())
    d.js(f"document.getElementById('server_url').value = {json.dumps(server_url)}; "
         "document.getElementById('connect').click(); true")
    d.check("databases listed", d.wait_js("document.getElementById('database').value"))
    d.js("document.getElementById('login').value = 'waiter';"
         "document.getElementById('password').value = 'wrong';"
         "document.getElementById('do_login').click(); true")
    refused = d.wait_js("document.getElementById('login_note').textContent")
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
COUNT_AGENT_EVENTS = """window.__agentEventsSince = 0;
window.addEventListener('possync:agent', function () { window.__agentEventsSince += 1; });
true"""
# One new order on a table, one line of a sellable product, through window.e2e.
EDIT = """window.__edit = null; (async function () {
  var c = window.e2e.catalog(), product = c.products[0], table = c.tables[0];
  var order = window.e2e.newOrder(table);
  var line = await window.e2e.addLine(order, product.id, product.price);
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
    d.check("Odoo's login page came first and the app logged in by itself",
            any(load["path"].startswith("/web/login") for load in d.loads)
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
            d.js("window.__agentEventsSince") == 0 and pos_loads[-1]["injection"] == "already",
            pos_loads[-1])
    status = d.wait_js(SYNCED_BY_AGENT, 60)
    d.check("the addon's sync client runs through the agent, synced", status,
            d.js("JSON.stringify(window.possync.status())"))
    agent_status = d.wait(app.agent_status, 20) or {}
    d.check("the page and the agent are one terminal",
            d.js("window.possync.terminal()") == agent_status.get("terminal"),
            agent_status.get("terminal"))

    d.js(OPEN_REGISTER)
    d.check("the floor plan shows", d.wait_js("!!document.querySelector('.floor-map')", 60))
    d.js(E2E_POS_JS.read_text(encoding="utf-8"))
    d.check("the POS store is ready for edits", d.wait_js("window.e2e.ready()", 30))
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
    app.window.destroy()  # nothing unsent: closes without asking
    d.wait(lambda: d.confirm_messages, timeout=3)
    d.check("closing asked nothing (nothing unsent)", not d.confirm_messages, d.confirm_messages)


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=[
        "pos", "print", "offline", "no-addon", "setup", "setup-errors",
        "storage-write", "storage-read", "real-odoo",
    ])  # fmt: skip
    parser.add_argument("--shots", type=Path)
    parser.add_argument("--port", type=int, help="the fake Odoo's port (default: a free one)")
    real = parser.add_argument_group("real-odoo: the Odoo to open")
    real.add_argument("--server")
    real.add_argument("--db")
    real.add_argument("--login")
    real.add_argument("--password")
    real.add_argument("--config-id", type=int)
    args = parser.parse_args()
    if args.shots is not None:
        os.environ.pop("QT_QPA_PLATFORM", None)  # shots need the (Xvfb) display, not offscreen
    prepare_qt_env(offscreen=args.shots is None)

    from shell.app import App
    from shell.credentials import Credentials
    from tests.shell.fake_odoo import PASSWORD, FakeOdoo, Options

    driver = Driver(args.shots)
    port = args.port or free_port()
    server = FakeOdoo(Options(addon_script=args.scenario != "no-addon"), port)
    configured = settings_mod.Settings(server.url, "restaurant", "waiter", 2, "Restaurant")
    password = PASSWORD
    if args.scenario == "real-odoo":
        configured, password = real_odoo_settings(args), args.password
    if args.scenario in ("setup", "setup-errors"):
        configured = settings_mod.Settings()
    else:
        settings_mod.save(configured)
        Credentials().put(configured, password)
    if args.scenario not in ("offline", "real-odoo"):
        server.start()

    driver.app = App(
        configured,
        confirm=driver.confirm,
        agent_options=["--peer-port", "0", "--no-mdns"],
        print_to=driver.print_to_pdf,
    )
    scenarios: dict[str, Callable[[], None]] = {
        "pos": lambda: scenario_pos(driver),
        "print": lambda: scenario_print(driver),
        "no-addon": lambda: scenario_no_addon(driver),
        "offline": lambda: scenario_offline(driver, server.start),
        "setup": lambda: scenario_setup(driver, server.url),
        "setup-errors": lambda: scenario_setup_errors(driver),
        "storage-write": lambda: scenario_storage_write(driver),
        "storage-read": lambda: scenario_storage_read(driver),
        "real-odoo": lambda: scenario_real_odoo(driver),
    }
    timeout = REAL_ODOO_TIMEOUT_S if args.scenario == "real-odoo" else SCENARIO_TIMEOUT_S
    scenario = _guarded(driver, scenarios[args.scenario], timeout)
    threading.Thread(target=scenario, daemon=True).start()
    driver.app.run()
    if args.scenario == "pos":
        driver.check("the agent stops with the app", not alive(driver.agent_pid))  # type: ignore[attr-defined]
    print("DONE", flush=True)
    return 1 if driver.failed else 0


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
