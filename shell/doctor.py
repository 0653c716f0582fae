"""`possync doctor`: everything a terminal needs, one line each (pass, warn, fail or skip),
with what to do; `--json` for monitoring. Exit code 0 when no check failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agent import app_update
from agent.clock import FAR_OFF_MS
from agent.version import version
from shell import diagnostics, lan_checks, odoo_probe, paths
from shell.checks import FAIL, Result, failed, overall, passed, skipped, warned
from shell.credentials import Credentials, KeyringUnavailable, keyring_state
from shell.i18n import N_, _
from shell.settings import Settings

MIN_FREE_BYTES = 1 << 30  # Odoo's IndexedDB and the agent's SQLite grow with the day's orders
CLOSE_S = 2.0  # the Date header counts whole seconds: closer than this is "in step"


async def _server_checks(settings: Settings, secret: str | None | Result) -> list[Result]:
    async with odoo_probe.OdooProbe(settings.server_url, tls=settings.tls()) as probe:
        try:
            info = await probe.server()
        except odoo_probe.ProbeError as exc:
            unchecked = (N_("Clock"), N_("Login"), N_("Addon"), N_("Update"), N_("Websocket"))
            return [failed(N_("Server"), exc.message, exc.hint)] + [
                skipped(name, _("needs the server")) for name in unchecked
            ]
        return [
            passed(N_("Server"), diagnostics.server_answers(info.version, probe.url)),
            _clock(info.clock_skew_s),
            *await _login_and_addon(probe, settings, secret),
            await _websocket(probe),
        ]


async def _login_and_addon(
    probe: odoo_probe.OdooProbe, settings: Settings, secret: str | None | Result
) -> list[Result]:
    needs_login = [
        skipped(N_("Addon"), _("needs a login")),
        skipped(N_("Update"), _("needs a login")),
    ]
    if isinstance(secret, Result):
        return [secret, *needs_login]
    if secret is None:
        return [skipped(N_("Login"), _("no stored password (typed at each start)")), *needs_login]
    try:
        await probe.login(settings.database, settings.login, secret)
    except odoo_probe.ProbeError as exc:
        return [failed(N_("Login"), exc.message, exc.hint), *needs_login]
    who = _("{login} on {db}.").format(login=settings.login, db=settings.database)
    login = passed(N_("Login"), who)
    try:
        addon = await probe.addon(int(settings.config_id or 0))
    except odoo_probe.ProbeError as exc:
        no_update = skipped(N_("Update"), _("needs the addon"))
        return [login, failed(N_("Addon"), exc.message, exc.hint), no_update]
    installed = passed(N_("Addon"), diagnostics.addon_installed(addon))
    return [login, installed, _update(addon.app_versions)]


def _update(app_versions: dict | None) -> Result:
    """This app against the versions the server's addon works with (agent/app_update.py),
    worded here in the app's language (the agent's status keeps its own English cause for
    `possync status` and the log)."""
    app = app_update.check(app_versions or {})
    versions = {"version": app.version, "min": app.min_version, "latest": app.latest_version}
    if app.state == app_update.TOO_OLD:
        too_old = _(
            "too old for this server (needs ≥ {min}): possync {version} syncs nothing with it "
            "and keeps its changes until then."
        )
        return failed(N_("Update"), too_old.format(**versions), _how_to_update())
    if app.state == app_update.UPDATE_AVAILABLE:
        available = _("update available ({version} → {latest}): this version keeps working.")
        return warned(N_("Update"), available.format(**versions), _how_to_update())
    if app.state == app_update.CURRENT:
        current = _("possync {version} is up to date for this server (newest it knows: {latest}).")
        return passed(N_("Update"), current.format(version=app.version, latest=app.latest_version))
    return skipped(N_("Update"), _("the server names no app versions, or this possync has none"))


def _how_to_update() -> str:
    if app_update.on_windows():
        return _("Run the new possync setup on this tablet (it keeps the data and unsent orders).")
    return _("Update possync on this tablet: sudo apt update && sudo apt upgrade.")


async def _websocket(probe: odoo_probe.OdooProbe) -> Result:
    try:
        await probe.websocket()
    except odoo_probe.ProbeError as exc:
        return failed(N_("Websocket"), exc.message, exc.hint)
    return passed(N_("Websocket"), diagnostics.websocket_reachable())


def _clock(skew: float | None) -> Result:
    """The device clock against the server's. possync stamps with the device clock corrected
    by this offset (agent/clock.py), so sync works either way; far off still fails, as the
    rest of the tablet (Odoo's own times, receipts) goes by the device clock."""
    if skew is None:
        return skipped(N_("Clock"), _("the server sent no Date header"))
    if abs(skew) <= CLOSE_S:
        return passed(N_("Clock"), _("within {s:.0f} s of the server's.").format(s=CLOSE_S))
    if skew > 0:
        offset = _("This terminal's clock is {s:.0f} s behind the server's").format(s=skew)
    else:
        offset = _("This terminal's clock is {s:.0f} s ahead of the server's").format(s=-skew)
    if abs(skew) * 1000 <= FAR_OFF_MS:
        return passed(
            N_("Clock"), _("{offset}; possync corrects its stamps for it.").format(offset=offset)
        )
    return failed(
        N_("Clock"),
        _(
            "{offset}. possync corrects its own stamps for it; the rest of the tablet does not."
        ).format(offset=offset),
        _("Turn on automatic date and time (NTP) on this terminal."),
    )


def _keyring(settings: Settings, device_key_store: str) -> Result:
    """The keyring is needed for what is kept there: the password (secret_store) and the
    device key (the agent's device_key_store). Not used at all is not a failure."""
    kept = {
        "keyring": N_("the password is kept in the keyring"),
        "file": N_("the password is kept in a private file, as chosen in setup"),
        "ask": N_("the password is asked at each start, as chosen in setup"),
    }.get(settings.secret_store, N_("the password cannot be stored"))
    device = (
        _("the device key in the keyring")
        if device_key_store == "keyring"
        else _("the device key in the data folder")
    )
    where = f"{_(kept)}; {device}"
    state = keyring_state()
    if state.ok:
        return passed(N_("Keyring"), f"{state.backend}.")
    if settings.secret_store != "keyring" and device_key_store != "keyring":
        not_used = _("Not used: {where} ({detail}).").format(where=where, detail=state.detail)
        return skipped(N_("Keyring"), not_used)
    return failed(
        N_("Keyring"),
        f"{state.detail} ({where}).",
        _("Install and unlock a keyring (GNOME Keyring, KWallet, Windows Credential Manager)."),
    )


def _disk() -> Result:
    folder: Path = paths.data_dir()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free >= MIN_FREE_BYTES:
        free_gib = _("{gib:.1f} GiB free in {folder}.").format(gib=free / (1 << 30), folder=folder)
        return passed(N_("Disk"), free_gib)
    return failed(
        N_("Disk"),
        _("Only {mib:.0f} MiB free in {folder}.").format(mib=free / (1 << 20), folder=folder),
        _("Free at least 1 GiB: unsent orders are kept on this disk."),
    )


def _secret(settings: Settings, credentials: Credentials) -> str | None | Result:
    """The stored password, or the Login failure when the keyring cannot give it."""
    try:
        return credentials.get(settings)
    except KeyringUnavailable as exc:
        return failed(
            N_("Login"),
            _("Could not read the password: {error}").format(error=exc),
            _("Fix the keyring, or choose another storage in possync's Settings."),
        )


def run(
    settings: Settings, credentials: Credentials | None = None, lan: lan_checks.Lan | None = None
) -> list[Result]:
    lan = lan or lan_checks.Lan()
    agent = lan_checks.agent_settings(lan.agent_data_dir)
    # The agent's own default when its settings cannot be read (the LAN checks say why).
    device_key_store = "keyring" if isinstance(agent, str) else agent.device_key_store
    keyring = _keyring(settings, device_key_store)
    if not settings.is_complete():
        setup = failed(
            N_("Settings"),
            _("possync is not set up on this terminal."),
            _("Start possync and fill in the setup screen."),
        )
        return [setup, keyring, _disk()]
    secret = _secret(settings, credentials or Credentials())
    server = odoo_probe.run(_server_checks(settings, secret))
    return [*server, keyring, _disk(), *lan_checks.run(settings, lan)]


def command(settings: Settings, as_json: bool = False) -> tuple[int, list[str]]:
    """Exit code (0: nothing failed; warnings and skipped checks are not failures) and
    the lines to print: one per check, or one JSON object for monitoring."""
    results = run(settings)
    failures = sum(result.outcome == FAIL for result in results)
    code = 1 if failures else 0
    if as_json:
        report = {
            "status": overall(results),
            "version": version(),
            "checks": [result.as_json() for result in results],
        }
        return code, [json.dumps(report, indent=2)]
    lines = [line for result in results for line in result.lines()]
    lines.append(
        _("All checks passed.") if not failures else _("{n} check(s) failed.").format(n=failures)
    )
    return code, lines
