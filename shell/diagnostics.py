"""The setup screen's "Test connection" report: each check with its message and hint.

The checks ask the server through `shell.odoo_probe.OdooProbe`, in order (server, login,
POS, addon, websocket); a failure that makes the next checks meaningless ends the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shell.i18n import N_, _
from shell.odoo_probe import ADDON, AddonInfo, OdooProbe, ProbeError
from shell.settings import ServerTls


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": _(self.name), "ok": self.ok, "message": self.message, "hint": self.hint}



async def check_connection(
    server_url: str,
    db: str,
    login: str,
    secret: str,
    config_id: int | None,
    tls: ServerTls | None = None,
) -> list[Check]:
    """Every check the setup screen's "Test connection" shows, stopping at the first
    failure that makes the next ones meaningless."""
    checks: list[Check] = []
    async with OdooProbe(server_url, tls=tls) as probe:
        steps = [
            (N_("Server"), lambda: _describe_server(probe)),
            (N_("Login"), lambda: _describe_login(probe, db, login, secret)),
            (N_("POS"), lambda: _describe_config(probe, config_id)),
            (N_("Addon"), lambda: _describe_addon(probe, config_id)),
            (N_("Websocket"), lambda: _describe_websocket(probe)),
        ]
        for name, step in steps:
            try:
                checks.append(Check(name, True, await step()))
            except ProbeError as exc:
                checks.append(Check(name, False, exc.message, exc.hint))
                # A blocked websocket still leaves a working (polling) set-up.
                if name != "Websocket":
                    break
    return checks


async def _describe_server(probe: OdooProbe) -> str:
    info = await probe.server()
    if info.major not in (18, 19):
        raise ProbeError(
            "unsupported",
            _("This is Odoo {version}; possync supports Odoo 18 and 19.").format(
                version=info.version
            ),
            _("Use an Odoo 18.0 or 19.0 server."),
        )
    return server_answers(info.version, probe.url)


async def _describe_login(probe: OdooProbe, db: str, login: str, secret: str) -> str:
    result = await probe.login(db, login, secret)
    if result.api_key:
        return _("API key accepted for {login}. The POS window asks you to log in once.").format(
            login=login
        )
    return _("Logged in as {login} on {db}.").format(login=login, db=db)


async def _describe_config(probe: OdooProbe, config_id: int | None) -> str:
    configs = {c["id"]: c for c in await probe.pos_configs()}
    if config_id not in configs:
        raise ProbeError(
            "no_config",
            _("The chosen POS does not exist or this user cannot open it."),
            _("Pick a POS from the list after logging in."),
        )
    return _("POS “{name}” found.").format(name=configs[config_id]["name"])


async def _describe_addon(probe: OdooProbe, config_id: int | None) -> str:
    return addon_installed(await probe.addon(int(config_id or 0)))


async def _describe_websocket(probe: OdooProbe) -> str:
    await probe.websocket()
    return websocket_reachable()


def server_answers(version: str, url: str) -> str:
    return _("Odoo {version} answers at {url}.").format(version=version, url=url)


def addon_installed(info: AddonInfo) -> str:
    if info.mode:
        return _("{addon} {version} is installed, {mode} mode.").format(
            addon=ADDON, version=info.version, mode=info.mode
        )
    return _("{addon} {version} is installed.").format(addon=ADDON, version=info.version)


def websocket_reachable() -> str:
    return _("The real-time channel (/websocket) is reachable.")
