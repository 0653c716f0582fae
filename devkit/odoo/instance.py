"""A running Odoo with an open restaurant POS session, as tests and benches see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HarnessError
from .rpc import OdooRpc
from .tree import OdooTree

ADMIN_LOGIN = ADMIN_PASSWORD = "admin"  # what Odoo's demo data sets
# What `python -m devkit.odoo up` prints about an instance, besides its address and log.
DESCRIBED = ("version", "db", "login", "password", "config_id", "session_id", "pos_url")


@dataclass
class OdooInstance:
    """A running Odoo with an open restaurant POS session."""

    tree: OdooTree
    base_url: str
    db: str
    config_id: int
    session_id: int
    log_path: Path
    rpc: OdooRpc
    with_addon: bool
    login: str = ADMIN_LOGIN
    password: str = ADMIN_PASSWORD

    @property
    def version(self) -> str:
        return self.tree.version

    @property
    def pos_url(self) -> str:
        return self.base_url + self.tree.pos_path(self.config_id)

    @property
    def jsonrpc(self) -> Callable[..., Any]:
        """``jsonrpc(model, method, args, kwargs)``: a call as admin, like the web client's."""
        return self.rpc.call

    def describe(self) -> dict[str, Any]:
        described = {name: getattr(self, name) for name in DESCRIBED}
        extra = {"url": self.base_url, "with_addon": self.with_addon, "log": str(self.log_path)}
        return described | extra


def open_pos_session(rpc: OdooRpc, config_id: int) -> int:
    """Return the id of an opened session of ``config_id``, opening one if needed.

    Opened here (``set_opening_control``), the POS skips its opening cash-count popup; it
    still shows the "Open Register" cashier screen first (see ``devkit.pos_page.PosPage.open``).
    """
    domain = [["config_id", "=", config_id], ["state", "in", ["opening_control", "opened"]]]
    found = rpc.call("pos.session", "search_read", [domain], {"fields": ["state"], "limit": 1})
    if found:
        session_id, state = found[0]["id"], found[0]["state"]
    else:
        session_id = rpc.call("pos.session", "create", [{"config_id": config_id}])
        state = "opening_control"
    if state == "opening_control":
        rpc.call("pos.session", "set_opening_control", [[session_id], 0, ""])
    return session_id


def restaurant_config_id(rpc: OdooRpc) -> int:
    ids = rpc.call(
        "pos.config",
        "search",
        [[["module_pos_restaurant", "=", True]]],
        {"limit": 1, "order": "id"},
    )
    if not ids:
        raise HarnessError("no restaurant pos.config in the database (demo data missing?)")
    return ids[0]
