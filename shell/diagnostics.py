"""The setup screen's "Test connection" report: each check with its message and hint.

The checks ask the server through `shell.odoo_probe.OdooProbe`, in order (server, login,
POS, addon, websocket); a failure that makes the next checks meaningless ends the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shell.odoo_probe import ADDON, OdooProbe, ProbeError
from shell.settings import ServerTls


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message, "hint": self.hint}



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
            ("Server", lambda: _describe_server(probe)),
            ("Login", lambda: _describe_login(probe, db, login, secret)),
            ("POS", lambda: _describe_config(probe, config_id)),
            ("Addon", lambda: _describe_addon(probe, config_id)),
            ("Websocket", lambda: _describe_websocket(probe)),
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
            f"This is Odoo {info.version}; possync supports Odoo 18 and 19.",
            "Use an Odoo 18.0 or 19.0 server.",
        )
    return f"Odoo {info.version} answers at {probe.url}."


async def _describe_login(probe: OdooProbe, db: str, login: str, secret: str) -> str:
    result = await probe.login(db, login, secret)
    if result.api_key:
        return f"API key accepted for {login}. The POS window asks you to log in once."
    return f"Logged in as {login} on {db}."


async def _describe_config(probe: OdooProbe, config_id: int | None) -> str:
    configs = {c["id"]: c for c in await probe.pos_configs()}
    if config_id not in configs:
        raise ProbeError(
            "no_config",
            "The chosen POS does not exist or this user cannot open it.",
            "Pick a POS from the list after logging in.",
        )
    return f"POS “{configs[config_id]['name']}” found."


async def _describe_addon(probe: OdooProbe, config_id: int | None) -> str:
    info = await probe.addon(int(config_id or 0))
    mode = f", {info.mode} mode" if info.mode else ""
    return f"{ADDON} {info.version} is installed{mode}."


async def _describe_websocket(probe: OdooProbe) -> str:
    await probe.websocket()
    return "The real-time channel (/websocket) is reachable."
