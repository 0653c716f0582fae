"""`possync doctor`: everything a terminal needs, one pass/fail line each, with what to do."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from agent.clock import FAR_OFF_MS
from shell import odoo_probe, paths
from shell.credentials import Credentials, KeyringUnavailable, keyring_state
from shell.settings import Settings

MIN_FREE_BYTES = 1 << 30  # Odoo's IndexedDB and the agent's SQLite grow with the day's orders
CLOSE_S = 2.0  # the Date header counts whole seconds: closer than this is "in step"


@dataclass
class Result:
    name: str
    outcome: str  # PASS, FAIL or SKIP
    message: str
    hint: str = ""

    def lines(self) -> list[str]:
        head = f"{self.outcome:<5} {self.name:<11} {self.message}"
        return [head, f"{'':17}→ {self.hint}"] if self.hint and self.outcome != "PASS" else [head]


def _pass(name: str, message: str) -> Result:
    return Result(name, "PASS", message)


def _fail(name: str, message: str, hint: str) -> Result:
    return Result(name, "FAIL", message, hint)


def _skip(name: str, why: str) -> Result:
    return Result(name, "SKIP", why)


async def _server_checks(settings: Settings, secret: str | None | Result) -> list[Result]:
    async with odoo_probe.OdooProbe(settings.server_url, tls=settings.tls()) as probe:
        try:
            info = await probe.server()
        except odoo_probe.ProbeError as exc:
            unchecked = ("Clock", "Login", "Addon", "Websocket")
            return [_fail("Server", exc.message, exc.hint)] + [
                _skip(name, "needs the server") for name in unchecked
            ]
        return [
            _pass("Server", f"Odoo {info.version} answers at {probe.url}."),
            _clock(info.clock_skew_s),
            *await _login_and_addon(probe, settings, secret),
            await _websocket(probe),
        ]


async def _login_and_addon(
    probe: odoo_probe.OdooProbe, settings: Settings, secret: str | None | Result
) -> list[Result]:
    if isinstance(secret, Result):
        return [secret, _skip("Addon", "needs a login")]
    if secret is None:
        return [_skip("Login", "no stored password (typed at each start)"),
                _skip("Addon", "needs a login")]
    try:
        await probe.login(settings.database, settings.login, secret)
    except odoo_probe.ProbeError as exc:
        return [_fail("Login", exc.message, exc.hint), _skip("Addon", "needs a login")]
    login = _pass("Login", f"{settings.login} on {settings.database}.")
    try:
        addon = await probe.addon(int(settings.config_id or 0))
    except odoo_probe.ProbeError as exc:
        return [login, _fail("Addon", exc.message, exc.hint)]
    mode = f", {addon.mode} mode" if addon.mode else ""
    return [login, _pass("Addon", f"{odoo_probe.ADDON} {addon.version} installed{mode}.")]


async def _websocket(probe: odoo_probe.OdooProbe) -> Result:
    try:
        await probe.websocket()
    except odoo_probe.ProbeError as exc:
        return _fail("Websocket", exc.message, exc.hint)
    return _pass("Websocket", "The real-time channel (/websocket) is reachable.")


def _clock(skew: float | None) -> Result:
    """The device clock against the server's. possync stamps with the device clock corrected
    by this offset (agent/clock.py), so sync works either way; far off still fails, as the
    rest of the tablet (Odoo's own times, receipts) goes by the device clock."""
    if skew is None:
        return _skip("Clock", "the server sent no Date header")
    if abs(skew) <= CLOSE_S:
        return _pass("Clock", f"within {CLOSE_S:.0f} s of the server's.")
    side = "behind" if skew > 0 else "ahead of"
    offset = f"This terminal's clock is {abs(skew):.0f} s {side} the server's"
    if abs(skew) * 1000 <= FAR_OFF_MS:
        return _pass("Clock", f"{offset}; possync corrects its stamps for it.")
    return _fail(
        "Clock",
        f"{offset}. possync corrects its own stamps for it; the rest of the tablet does not.",
        "Turn on automatic date and time (NTP) on this terminal.",
    )


def _keyring(settings: Settings) -> Result:
    state = keyring_state()
    if state.ok:
        return _pass("Keyring", f"{state.backend}.")
    where = {
        "file": "the password is kept in a private file, as chosen in setup",
        "ask": "the password is asked at each start, as chosen in setup",
    }.get(settings.secret_store, "the password cannot be stored")
    return _fail(
        "Keyring",
        f"{state.detail} ({where}).",
        "Install and unlock a keyring (GNOME Keyring, KWallet, Windows Credential Manager).",
    )


def _disk() -> Result:
    folder: Path = paths.data_dir()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free >= MIN_FREE_BYTES:
        return _pass("Disk", f"{free / (1 << 30):.1f} GiB free in {folder}.")
    return _fail(
        "Disk",
        f"Only {free / (1 << 20):.0f} MiB free in {folder}.",
        "Free at least 1 GiB: unsent orders are kept on this disk.",
    )


def _secret(settings: Settings, credentials: Credentials) -> str | None | Result:
    """The stored password, or the Login failure when the keyring cannot give it."""
    try:
        return credentials.get(settings)
    except KeyringUnavailable as exc:
        return _fail("Login", f"Could not read the password: {exc}",
                     "Fix the keyring, or choose another storage in possync's Settings.")


def run(settings: Settings, credentials: Credentials | None = None) -> list[Result]:
    if not settings.is_complete():
        setup = _fail("Settings", "possync is not set up on this terminal.",
                      "Start possync and fill in the setup screen.")
        return [setup, _keyring(settings), _disk()]
    secret = _secret(settings, credentials or Credentials())
    return [*odoo_probe.run(_server_checks(settings, secret)), _keyring(settings), _disk()]


def command(settings: Settings) -> tuple[int, list[str]]:
    results = run(settings)
    lines = [line for result in results for line in result.lines()]
    failed = sum(result.outcome == "FAIL" for result in results)
    lines.append("All checks passed." if not failed else f"{failed} check(s) failed.")
    return (1 if failed else 0), lines
