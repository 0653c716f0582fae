"""One serving Odoo, shaped as asked (workers, a proxy in front), with the instance tests
and benches get: started, asked for its processes, stopped."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import HarnessError
from .instance import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    OdooInstance,
    open_pos_session,
    restaurant_config_id,
)
from .process import OdooPids, OdooProcess, kill_orphan_server
from .proxy import PROXIES, NginxProxy
from .rpc import OdooRpc


@dataclass(frozen=True)
class ServerShape:
    """How Odoo serves: ``workers`` (0: one process) and the ``proxy`` in front of it
    (``None``, ``"nginx"`` or ``"nginx-no-websocket"``, see :mod:`devkit.odoo.proxy`)."""

    workers: int = 0
    proxy: str | None = None

    @classmethod
    def chosen(cls, workers: int | None, proxy: str | None) -> ServerShape:
        """The arguments given, else ``POSSYNC_ODOO_WORKERS`` and ``POSSYNC_ODOO_PROXY``
        (so a whole test tier can run production-shaped), else one process, no proxy."""
        if workers is None:
            workers = int(os.environ.get("POSSYNC_ODOO_WORKERS") or 0)
        if proxy is None:
            proxy = os.environ.get("POSSYNC_ODOO_PROXY") or None
        if proxy not in (None, *PROXIES):
            raise HarnessError(f"unknown proxy {proxy!r}: one of {', '.join(PROXIES)}")
        if workers < 0:
            raise HarnessError(f"workers must be 0 or more, not {workers}")
        return cls(workers, proxy)


@dataclass
class ServedOdoo:
    """A running ``odoo-bin``, the nginx in front of it if any, and its instance."""

    server: OdooProcess
    proxy: NginxProxy | None
    instance: OdooInstance

    @classmethod
    def start(
        cls,
        server: OdooProcess,
        shape: ServerShape,
        *,
        pidfile: Path,
        nginx_dir: Path,
        with_addon: bool,
    ) -> ServedOdoo:
        """Serve ``server``'s database as ``shape`` says and open its restaurant POS
        session; ``pidfile`` and ``nginx_dir`` let a later run stop what a killed one left."""
        server.workers = shape.workers
        server.proxy_mode = shape.proxy is not None
        server.start(pidfile=pidfile)
        proxy = None
        try:
            server.wait_ready()
            if shape.proxy:
                kill_orphan_server(nginx_dir / "nginx.pid", program=b"nginx")
                proxy = NginxProxy.of_kind(
                    shape.proxy, nginx_dir, server.http_port, server.websocket_port
                )
                proxy.start()
                proxy.wait_ready()
            base_url = proxy.url if proxy else server.base_url
            instance = _open_instance(server, base_url, with_addon)
        except BaseException:
            if proxy:
                proxy.stop()
            server.stop()
            raise
        return cls(server, proxy, instance)

    def pids(self) -> OdooPids:
        """Odoo's master, HTTP workers and gevent process (for CPU accounting from /proc)."""
        return self.server.pids()

    def kill_http_worker(self) -> int:
        """SIGKILL one of Odoo's HTTP workers; returns its pid once the master replaced it."""
        return self.server.kill_http_worker()

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        self.server.stop()


def _open_instance(server: OdooProcess, base_url: str, with_addon: bool) -> OdooInstance:
    rpc = OdooRpc(base_url, server.db, ADMIN_LOGIN, ADMIN_PASSWORD)
    config_id = restaurant_config_id(rpc)
    return OdooInstance(
        tree=server.tree,
        base_url=base_url,
        db=server.db,
        config_id=config_id,
        session_id=open_pos_session(rpc, config_id),
        log_path=server.log_path,
        rpc=rpc,
        with_addon=with_addon,
    )
