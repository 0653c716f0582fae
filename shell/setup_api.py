"""The API behind the app's own pages: the setup screen and the offline page.

Each handler takes the JSON body a page posted (shell/localserver.py) and answers a JSON
dict; the names are the ones the pages call (shell/static/setup.js, offline.js). The
handlers ask Odoo through `shell.odoo_probe`, report through `shell.diagnostics`, and
leave what the window and the agent do to the app (`App.apply_settings`).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent import server_tls
from shell import diagnostics, enrolment, kiosk, odoo_probe
from shell import settings as settings_mod
from shell.credentials import KeyringUnavailable, SecretTooLong, call_with_timeout, keyring_state
from shell.i18n import N_, _
from shell.localserver import Handler
from shell.settings import ServerTls, Settings, normalize_server_url

if TYPE_CHECKING:
    from shell.app import App

SHORTER_SECRET = N_("Use a shorter password, or an API key (Odoo: your user → Account Security).")
CHOOSE_FILE_TIMEOUT_S = 600.0
KIOSK_LOCKED = N_("Give the manager PIN first.")
FIRST_PIN_BY_MANAGER = N_(
    "Only a POS manager allowed on this POS can set a kiosk's first manager PIN: "
    "log in as one."
)


class SetupApi:
    """The local pages' handlers, for one app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.user_lang = ""  # the language of the user who logged in on the setup page

    def handlers(self) -> dict[str, Handler]:
        """Every handler that reads or changes the set-up waits for the manager PIN on a
        locked kiosk, so a setup screen left open is useless once the unlock expired."""
        gated = {
            "databases": self.databases,
            "login": self.login,
            "test": self.test,
            "save": self.save,
            "choose_ca_file": self.choose_ca_file,
            "enrol": self.enrol,
        }
        return {
            "setup_state": self.setup_state,
            "state": self.state,
            "settings": self.settings,
            "pin_state": self.pin_state,
            "unlock": self.unlock,
            "pin_back": self.pin_back,
            **{name: self._after_pin(handler) for name, handler in gated.items()},
        }

    def _after_pin(self, handler: Handler) -> Handler:
        def gated(body: dict) -> dict:
            if self.app.pin_needed("settings"):
                return {"ok": False, "error": {"code": "kiosk_locked", "message": _(KIOSK_LOCKED)}}
            return handler(body)

        return gated

    def settings(self, _body: dict) -> dict:
        self.app.show_setup()
        return {"ok": True}

    def pin_state(self, _body: dict) -> dict:
        return {"wait_s": self.app.pin.locked_for()}

    def unlock(self, body: dict) -> dict:
        answer = self.app.unlock(str(body.get("pin", "")), str(body.get("then", "")))
        return {"ok": answer.ok, "wait_s": answer.wait_s, "message": answer.message}

    def pin_back(self, _body: dict) -> dict:
        """The PIN page's "Back to the POS"."""
        threading.Thread(target=self.app.open_pos, daemon=True).start()
        return {"ok": True}

    def setup_state(self, _body: dict) -> dict:
        state = keyring_state(self.app.credentials.timeout)
        return {
            "settings": page_settings(self.app.settings),
            "keyring": {"ok": state.ok, "backend": state.backend, "detail": state.detail},
            "configured": self.app.settings.is_complete(),
        }

    def choose_ca_file(self, _body: dict) -> dict:
        import webview

        window = self.app.window
        assert window is not None
        chosen = call_with_timeout(
            lambda: window.native.create_file_dialog(
                webview.FileDialog.OPEN,
                file_types=(_("Certificates (*.pem;*.crt;*.cer)"), _("All files (*.*)")),
            ),
            CHOOSE_FILE_TIMEOUT_S,
        )
        return {"path": str(chosen[0]) if chosen else ""}

    def enrol(self, body: dict) -> dict:
        """Trade the code (typed, or the scanned line) for the set-up; saved at once, so
        a restart before the login keeps it (the code works only once)."""
        insecure = bool(body.get("allow_insecure_http"))
        try:
            request = enrolment.parse(str(body.get("code", "")), str(body.get("server_url", "")))
            enrolled = enrolment.run(request, insecure)
        except odoo_probe.ProbeError as exc:
            return {"ok": False, "error": exc.as_dict()}
        new = enrolment.settings_for(enrolled, self.app.settings, insecure)
        settings_mod.save(new)
        return {"ok": True, "settings": page_settings(new)}

    def databases(self, body: dict) -> dict:
        url = normalize_server_url(str(body.get("server_url", "")))

        async def go() -> dict:
            async with odoo_probe.OdooProbe(url, tls=_tls(body)) as probe:
                info = await probe.server()
                dbs = await probe.databases()
            return {
                "ok": True,
                "server_url": url,
                "version": info.version,
                "odoo_major": info.major,
                "databases": dbs,
            }

        return _probe_answer(go)

    def login(self, body: dict) -> dict:
        url = normalize_server_url(str(body.get("server_url", "")))

        async def go() -> dict:
            async with odoo_probe.OdooProbe(url, tls=_tls(body)) as probe:
                result = await probe.login(body["database"], body["login"], body["password"])
                configs = await probe.pos_configs()
            self.app.follow_user_language(result.lang)
            self.user_lang = result.lang
            return {"ok": True, "api_key": result.api_key, "configs": configs}

        return _probe_answer(go)

    def test(self, body: dict) -> dict:
        url = normalize_server_url(str(body.get("server_url", "")))
        checks = odoo_probe.run(
            diagnostics.check_connection(
                url,
                body["database"],
                body["login"],
                body["password"],
                int(body["config_id"]) if body.get("config_id") else None,
                _tls(body),
            )
        )
        return {"checks": [c.as_dict() for c in checks]}

    def save(self, body: dict) -> dict:
        try:
            pin_hash = _manager_pin_hash(body, self.app.settings.manager_pin_hash, self.app.kiosk)
        except kiosk.PinFormatError as exc:
            return {"ok": False, "error": {"code": "manager_pin", "message": str(exc)}}
        refused = self._first_pin_refusal(body)
        if refused:
            return refused
        try:
            ca_file = settings_mod.keep_ca_file(str(body.get("server_ca_file") or ""))
        except ValueError as exc:
            error = {
                "code": "tls_ca_file",
                "message": str(exc),
                "hint": _("Choose the PEM file of the server's certificate authority."),
            }
            return {"ok": False, "error": error}
        insecure = _insecure_answer(normalize_server_url(str(body["server_url"])), body)
        if insecure:
            return insecure
        new = replace(
            _settings(body, ca_file, pin_hash), lang=self.user_lang or self.app.settings.lang
        )
        try:
            self.app.credentials.put(new, str(body["password"]))
        except KeyringUnavailable as exc:
            return {"ok": False, "error": {"code": "keyring", "message": str(exc)}}
        except SecretTooLong as exc:
            error = {"code": "password_too_long", "message": str(exc), "hint": _(SHORTER_SECRET)}
            return {"ok": False, "error": error}
        if body.get("manager_pin"):
            kiosk.clear_attempts()
        self.app.apply_settings(new, str(body["password"]))
        return {"ok": True}

    def _first_pin_refusal(self, body: dict) -> dict | None:
        """A kiosk with no PIN yet (the server turned kiosk on, ``--kiosk``, the settings
        lost) would take its first PIN from whoever touches it first: only a POS manager
        allowed on that POS may set it. None when the save may go on."""
        if not self.app.kiosk or self.app.settings.manager_pin_hash:
            return None
        try:
            manager = odoo_probe.run(
                odoo_probe.pos_manager(
                    normalize_server_url(str(body["server_url"])),
                    _tls(body),
                    str(body["database"]),
                    str(body["login"]),
                    str(body["password"]),
                    int(body["config_id"]),
                )
            )
        except odoo_probe.ProbeError as exc:
            return {"ok": False, "error": exc.as_dict()}
        if manager:
            return None
        error = {"code": "pin_needs_manager", "message": _(FIRST_PIN_BY_MANAGER)}
        return {"ok": False, "error": error}

    def state(self, _body: dict) -> dict:
        app = self.app
        reachable = app.watch.check() if app.settings.server_url else False
        supervisor = app.supervisor
        return {
            "server": {
                "url": app.settings.server_url,
                "reachable": reachable,
                "message": app.watch.message,
            },
            "agent": {
                "running": bool(supervisor and supervisor.listening),
                "restarts": supervisor.restarts if supervisor else 0,
                "status": app.agent_status(),
            },
            "pos_url": app.settings.pos_url() if app.settings.is_complete() else None,
            "config_name": app.settings.config_name,
        }


def page_settings(settings: Settings) -> dict:
    """The settings as a page may see them: not even the PIN's hash goes to a page,
    only whether a PIN is set."""
    shown = {**vars(settings)}
    shown["manager_pin_set"] = bool(shown.pop("manager_pin_hash"))
    return shown


def _manager_pin_hash(body: dict, current: str, kiosk_now: bool) -> str:
    """The manager PIN's hash the form asks for: a new PIN typed, else the one set.
    Raises PinFormatError for a malformed PIN, or a kiosk (now or from the form) without
    any PIN."""
    pin = str(body.get("manager_pin") or "")
    new = kiosk.hash_pin(pin) if pin else current
    if (kiosk_now or body.get("kiosk")) and not new:
        needs_pin = _("A kiosk needs a manager PIN. {rule}").format(rule=_(kiosk.PIN_RULE))
        raise kiosk.PinFormatError(needs_pin)
    return new


def _settings(body: dict, ca_file: str, pin_hash: str) -> Settings:
    """The settings the setup form describes."""
    return Settings(
        server_url=normalize_server_url(str(body["server_url"])),
        database=str(body["database"]),
        login=str(body["login"]),
        config_id=int(body["config_id"]),
        config_name=str(body.get("config_name", "")),
        odoo_major=int(body.get("odoo_major") or 19),
        fullscreen=bool(body.get("fullscreen")),
        silent_print=bool(body.get("silent_print")),
        secret_store=str(body.get("secret_store") or "keyring"),
        server_ca_file=ca_file,
        allow_insecure_http=bool(body.get("allow_insecure_http")),
        kiosk=bool(body.get("kiosk")),
        manager_pin_hash=pin_hash,
    )


def _insecure_answer(url: str, body: dict) -> dict | None:
    try:
        server_tls.check_server_url(url, bool(body.get("allow_insecure_http")))
    except server_tls.InsecureServer as exc:
        hint = _("Use the server's https:// address (see “Server certificate and encryption”).")
        return {"ok": False, "error": {"code": "insecure_http", "message": str(exc), "hint": hint}}
    return None


def _tls(body: dict) -> ServerTls:
    """The TLS choices of the setup form (before they are saved)."""
    return ServerTls(
        str(body.get("server_ca_file") or "").strip(), bool(body.get("allow_insecure_http"))
    )


def _probe_answer(go: Any) -> dict:
    try:
        return odoo_probe.run(go())
    except odoo_probe.ProbeError as exc:
        return {"ok": False, "error": exc.as_dict()}
