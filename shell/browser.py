"""What the browser itself knows and decides, below any page: the window's Qt WebEngine
page, reached through pywebview's Qt window (``window.native``: its ``webview`` and that
view's ``page()``), hooked through Qt's own signals, without changing pywebview.

- **Top-level navigation** (``QWebEnginePage.navigationRequested``): only to the origins
  `NavigationPolicy` allows (in kiosk mode only to the paths it allows there); anything
  else is refused and said in a notice.
- **New windows** (a link with ``target=_blank``, ``window.open``): in kiosk mode refused
  with the same notice, instead of pywebview's default of opening the system browser.
- **File choosers** (``<input type=file>``, ``QWebEnginePage.chooseFiles``): in kiosk
  mode answered with no file, so no file dialog opens.
- **Certificate errors** (``certificateError``): accepted only for the server's origin,
  when the chain the server presented verifies against the CA file chosen at setup
  (agent/server_tls.py); anything else is refused, as Chromium would.
- **The session cookie** goes into the profile's cookie store (``setCookie``), so the
  password never enters a page.
- **Notices** live in the window's native status bar, outside the page: no page can
  remove, restyle or imitate them in place.
- **Which page is shown** is the view's own URL and the last load's outcome
  (``loadingChanged``), not anything a page script reports.

Every Qt call runs on the GUI thread: callers on other threads go through `GuiThread`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from agent import server_tls
from agent.timeout_call import Outcome
from shell.i18n import N_, _
from shell.settings import origin_of

log = logging.getLogger("possync.browser")

T = TypeVar("T")
GUI_CALL_TIMEOUT_S = 5.0
COOKIE_WAIT_S = 3.0
REFUSED_NOTICE_MS = 20_000
NOT_RUN = "not-run"  # run_at: the browser was not at that origin
RED = "background:#b42318;color:#fff;font-weight:600;padding:3px 10px"
AMBER = "background:#b54708;color:#fff;font-weight:600;padding:3px 10px"


NOT_THE_SERVER = N_("not the Odoo server of this POS")
OUTSIDE_THE_POS = N_("outside the POS (this tablet is a kiosk)")


@dataclass
class NavigationPolicy:
    """Where the window may go: the server's origin and the app's own local pages.

    ``kiosk_paths`` (kiosk mode): per origin, the only paths the window may open there;
    a path is allowed when it is one of them or below one (``/pos`` allows ``/pos/ui/2``,
    not ``/posx``). An origin it does not name is open at every path; ``None``: no limits.
    """

    allowed_origins: Callable[[], Sequence[str]]
    kiosk_paths: Callable[[], Mapping[str, Sequence[str]] | None] = lambda: None

    @property
    def kiosk(self) -> bool:
        return self.kiosk_paths() is not None

    def refusal(self, url: str) -> str | None:
        """Why the window may not open ``url``, or None when it may."""
        if url == "about:blank":
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return NOT_THE_SERVER
        origin = origin_of(url)
        if origin not in self.allowed_origins():
            return NOT_THE_SERVER
        allowed = (self.kiosk_paths() or {}).get(origin)
        path = parts.path or "/"
        if allowed is not None and not any(_under(path, p) for p in allowed):
            return OUTSIDE_THE_POS
        return None

    def allows(self, url: str) -> bool:
        return self.refusal(url) is None


def _under(path: str, allowed: str) -> bool:
    return path == allowed or path.startswith(allowed.rstrip("/") + "/")


@dataclass
class CertificateTrust:
    """The server whose certificate errors may be overridden, and the file that decides."""

    server_origin: str
    ca_file: str

    def accepts(self, url: str, chain_der: list[bytes]) -> bool:
        if not self.ca_file or origin_of(url) != self.server_origin:
            return False
        try:
            trusted = server_tls.load_ca_file(self.ca_file)
        except ValueError as exc:
            log.warning("server certificate file unusable: %s", exc)
            return False
        return server_tls.chain_matches(chain_der, urlsplit(url).hostname or "", trusted)


@dataclass
class LastLoad:
    url: str = ""
    failed: bool = False
    error: str = ""


@dataclass
class Refusal:
    url: str
    why: str


@dataclass
class BrowserState:
    """What the hooks saw, for the app and the tests (read from any thread)."""

    last_load: LastLoad = field(default_factory=LastLoad)
    # Page loads started so far: tells one load reported twice from two loads.
    loads_started: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    # Addresses whose certificate was accepted through the server CA file.
    accepted_certificates: list[str] = field(default_factory=list)


class GuiThread:
    """Runs callables on Qt's GUI thread from any thread, waiting for the result."""

    def __init__(self) -> None:
        from qtpy.QtCore import QObject, Signal, Slot
        from qtpy.QtWidgets import QApplication

        class Invoker(QObject):
            request = Signal(object)

            @Slot(object)
            def run(self, job: Callable[[], None]) -> None:
                job()

        self._invoker = Invoker()
        app = QApplication.instance()
        assert app is not None, "the Qt application must exist"
        self._invoker.moveToThread(app.thread())
        # The slot's object lives on the GUI thread: each emit is queued to it.
        self._invoker.request.connect(self._invoker.run)

    def call(self, fn: Callable[[], T], timeout: float = GUI_CALL_TIMEOUT_S) -> T:
        from qtpy.QtCore import QThread
        from qtpy.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None and QThread.currentThread() == app.thread():
            return fn()
        outcome: Outcome[T] = Outcome()
        self._invoker.request.emit(lambda: outcome.run(fn))
        return outcome.wait(timeout, "the GUI thread did not answer")  # i18n: ignore (log)


class Browser:
    """The hooks on one pywebview Qt window (``browser_view`` is ``window.native``)."""

    def __init__(
        self,
        browser_view: Any,
        policy: NavigationPolicy,
        trust: Callable[[], CertificateTrust],
    ) -> None:
        self.view = browser_view
        self.policy = policy
        self.trust = trust
        self.state = BrowserState()
        self.gui = GuiThread()
        self._insecure: Any = None
        self._refused: Any = None
        self.gui.call(self._install)

    # ------------------------------------------------------------------ hooks (GUI thread)

    def _install(self) -> None:
        from qtpy.QtCore import Qt

        page = self.view.webview.page()
        direct = Qt.ConnectionType.DirectConnection
        # Direct: the request is decided before the signal returns to Qt.
        page.navigationRequested.connect(self._navigation, direct)
        page.certificateError.connect(self._certificate_error, direct)
        page.loadingChanged.connect(self._loading, direct)
        if self.policy.kiosk:
            # pywebview's page hands new windows to ``nav_handler``, which opens the
            # system browser: a way out of a kiosk.
            page.nav_handler = _refusing_new_window(page, self._refuse)

    def _navigation(self, request: Any) -> None:
        if not request.isMainFrame():
            return  # frames are the page's own business; only where the window goes counts
        url = request.url().toString()
        why = self.policy.refusal(url)
        if why is None:
            return
        request.reject()
        self._refuse(url, why)

    def _certificate_error(self, error: Any) -> None:
        url = error.url().toString()
        chain = [bytes(cert.toDer()) for cert in error.certificateChain()]
        if error.isOverridable() and self.trust().accepts(url, chain):
            log.info("certificate of %s accepted: it verifies against the server CA file", url)
            self.state.accepted_certificates.append(url)
            error.acceptCertificate()
            return
        error.rejectCertificate()
        if error.isMainFrame():
            why = _("its certificate is not trusted ({error})").format(error=error.description())
            self._refuse(url, why)

    def _loading(self, info: Any) -> None:
        from qtpy.QtWebEngineCore import QWebEngineLoadingInfo

        status = info.status()
        # -3 (ERR_ABORTED): a load replaced by another, or refused above; not a failure of
        # the server.
        aborted = info.errorCode() == -3
        if status == QWebEngineLoadingInfo.LoadStatus.LoadStartedStatus:
            self.state.loads_started += 1
        elif status == QWebEngineLoadingInfo.LoadStatus.LoadSucceededStatus:
            self.state.last_load = LastLoad(info.url().toString())
        elif status == QWebEngineLoadingInfo.LoadStatus.LoadFailedStatus and not aborted:
            self.state.last_load = LastLoad(info.url().toString(), True, info.errorString())

    def _refuse(self, url: str, why: str) -> None:
        log.warning("refused to open %s: %s", url, why)
        self.state.refusals.append(Refusal(url, why))
        refused = _("possync did not open {url}: {why}.")
        self._show_refused(refused.format(url=_shorten(url), why=_(why)))

    # ------------------------------------------------------------------ scripts

    def run_at(self, origin: str, script: str, timeout: float = GUI_CALL_TIMEOUT_S) -> Any:
        """Run ``script`` in the page only if the browser shows ``origin`` at that moment:
        the address is read and the script sent in one step on the GUI thread, so a
        navigation in between cannot hand the script to another page. Returns the
        script's value, or NOT_RUN."""
        answer: dict[str, Any] = {}
        done = threading.Event()

        def finished(value: Any) -> None:
            answer["value"] = js_value(value)
            done.set()

        def send() -> bool:
            page = self.view.webview.page()
            if origin_of(page.url().toString()) != origin:
                return False
            page.runJavaScript(script, 0, finished)
            return True

        if not self.gui.call(send):
            return NOT_RUN
        return answer["value"] if done.wait(timeout) else None

    # ------------------------------------------------------------------ notices

    def show_insecure(self, text: str | None) -> None:
        """The permanent red notice (None removes it: the setting was switched off)."""
        self.gui.call(lambda: self._set_insecure(text))

    def _set_insecure(self, text: str | None) -> None:
        if text is None:
            if self._insecure is not None:
                self._insecure.hide()
            return
        if self._insecure is None:
            self._insecure = _notice_label("possync-insecure", RED)
            self.view.statusBar().addPermanentWidget(self._insecure, 1)
        self._insecure.setText(text)
        self._insecure.setToolTip(text)
        self._insecure.show()

    def _show_refused(self, text: str) -> None:
        from qtpy.QtCore import QTimer

        if self._refused is None:
            self._refused = _notice_label("possync-refused", AMBER)
            self.view.statusBar().insertPermanentWidget(0, self._refused, 1)
        self._refused.setText(text)
        self._refused.setToolTip(text)
        self._refused.show()
        label = self._refused
        QTimer.singleShot(REFUSED_NOTICE_MS, lambda: label.text() == text and label.hide())

    def notices(self) -> dict[str, str]:
        """The notices shown now, by kind (for tests and screenshots)."""

        def read() -> dict[str, str]:
            shown = {}
            for kind, label in (("insecure", self._insecure), ("refused", self._refused)):
                if label is not None and label.isVisible():
                    shown[kind] = label.text()
            return shown

        return self.gui.call(read)

    # ------------------------------------------------------------------ session cookie

    def set_cookies(self, origin: str, cookies: Sequence[Any]) -> bool:
        """Put Odoo's session cookies in the web view's store for ``origin``; True once the
        store has them (so a load started next carries them)."""
        names = {cookie.name for cookie in cookies}
        added: set[str] = set()
        stored = threading.Event()

        def on_added(raw: Any) -> None:
            name = bytes(raw.name()).decode("latin-1")
            if name in names:
                added.add(name)
                if added == names:
                    stored.set()

        def put() -> None:
            from qtpy.QtCore import Qt

            store = self.view.webview.page().profile().cookieStore()
            store.cookieAdded.connect(on_added, Qt.ConnectionType.DirectConnection)
            for cookie in cookies:
                store.setCookie(_qt_cookie(cookie, origin), _qurl(origin))

        self.gui.call(put)
        ok = stored.wait(COOKIE_WAIT_S)

        def disconnect() -> None:
            store = self.view.webview.page().profile().cookieStore()
            store.cookieAdded.disconnect(on_added)

        self.gui.call(disconnect)
        return ok


def _refusing_new_window(page: Any, refuse: Callable[[str, str], None]) -> Any:
    """A page that takes any new window the POS page asks for and opens nothing."""
    from qtpy.QtWebEngineCore import QWebEnginePage

    class RefusingPage(QWebEnginePage):
        def acceptNavigationRequest(self, url: Any, _kind: Any, _main: bool) -> bool:  # noqa: N802
            refuse(url.toString(), N_("new windows are not opened on a kiosk"))
            return False

    return RefusingPage(page.profile(), page)


def refuse_file_choosers(page_class: type) -> None:
    """A kiosk's page opens no file dialog: an ``<input type=file>`` would show the
    system's file dialog, a way to the tablet's files. Qt asks the page class's
    ``chooseFiles`` for the files; here it answers none, before any page exists."""

    def no_files(_page: Any, _mode: Any, _old: Any, _accepted: Any) -> list[str]:
        log.warning("refused a file chooser: files are not chosen on a kiosk")
        return []

    page_class.chooseFiles = no_files  # type: ignore[attr-defined]


def js_value(value: Any) -> Any:
    """A page script's value as Python. PySide6 hands every JavaScript number over as a
    float; a whole one comes back as int, the type counts are checked against."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [js_value(item) for item in value]
    if isinstance(value, dict):
        return {key: js_value(item) for key, item in value.items()}
    return value


def _notice_label(name: str, style: str) -> Any:
    """One line in the window's status bar, as wide as the window (never wider: a long
    address must not widen a tablet's window), the whole text in its tooltip."""
    from qtpy.QtWidgets import QLabel, QSizePolicy

    label = QLabel()
    label.setObjectName(name)
    label.setStyleSheet(style)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    return label


def _qurl(url: str) -> Any:
    from qtpy.QtCore import QUrl

    return QUrl(url)


def _qt_cookie(cookie: Any, origin: str) -> Any:
    """A host-only cookie for ``origin`` (no domain: Chromium binds it to the origin's host),
    HttpOnly (no page script reads it), Secure on https."""
    from qtpy.QtCore import QDateTime
    from qtpy.QtNetwork import QNetworkCookie

    qt = QNetworkCookie(cookie.name.encode("latin-1"), cookie.value.encode("latin-1"))
    qt.setPath(cookie.path or "/")
    qt.setHttpOnly(True)
    qt.setSecure(origin.startswith("https://"))
    if cookie.max_age_s:
        qt.setExpirationDate(QDateTime.currentDateTimeUtc().addSecs(cookie.max_age_s))
    return qt


def _shorten(url: str, limit: int = 90) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
