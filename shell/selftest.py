"""`possync --self-test`: does this build work on this machine?

Starts the agent (as the app would, so a bundle re-enters itself), an offscreen window on
the built-in page shell/static/selftest.html, injects the agent's address, and waits for
the page to report the round trip page → agent → page. Needs no Odoo server.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from shell import paths
from shell.injection import AgentAddress, agent_script
from shell.localserver import LocalServer
from shell.supervisor import AgentSupervisor, child_env
from shell.window import ShellWindow, prepare_qt_env

AGENT_START_TIMEOUT_S = 30.0
PAGE_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _agent(data_dir: Path, token: str, origin: str) -> AgentSupervisor:
    # Its own peer port and no mDNS: a self-test must not meet a running terminal.
    peer_port = str(free_port())

    def command(port: int) -> list[str]:
        return paths.agent_command([
            "run", "--data-dir", str(data_dir), "--page-port", str(port),
            "--peer-port", peer_port, "--no-mdns", "--allowed-origin", origin,
        ])  # fmt: skip

    return AgentSupervisor(
        command, child_env({"POSSYNC_PAGE_TOKEN": token}), data_dir / "agent.log"
    )


def _run_page(local: LocalServer, address: AgentAddress, done: threading.Event) -> None:
    import webview

    window = ShellWindow("possync self-test", local.url("selftest.html"))
    script = agent_script(address, local.origin, addon_watch=False)
    window.on_loaded(lambda: window.run_js(script))

    def watchdog() -> None:
        done.wait(PAGE_TIMEOUT_S)
        window.destroy()

    webview.start(watchdog, gui="qt", private_mode=True)


def _log_tail(path: Path, lines: int = 15) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return []


def run() -> tuple[int, list[str]]:
    prepare_qt_env(offscreen=True)
    result: dict[str, Any] = {}
    done = threading.Event()

    def on_result(body: dict[str, Any]) -> dict[str, Any]:
        result.update(body)
        done.set()
        return {"ok": True}

    token = secrets.token_urlsafe(32)
    local = LocalServer({"selftest": on_result})
    local.start()
    with tempfile.TemporaryDirectory(prefix="possync-selftest-") as tmp:
        supervisor = _agent(Path(tmp), token, local.origin)
        supervisor.start()
        try:
            listening = supervisor.wait_listening(AGENT_START_TIMEOUT_S)
            if listening is None:
                return 1, [
                    f"FAIL  agent: not listening within {AGENT_START_TIMEOUT_S:g} s",
                    *(f"      {line}" for line in _log_tail(Path(tmp) / "agent.log")),
                ]
            _run_page(local, AgentAddress(listening.page_port, token), done)
        finally:
            supervisor.stop()
            local.stop()
    return _report(result)


def _report(result: dict[str, Any]) -> tuple[int, list[str]]:
    if not result:
        return 1, [f"FAIL  page: no report within {PAGE_TIMEOUT_S:g} s (window or injection)"]
    lines = ["PASS  agent: started and listening"]
    for step in result.get("steps", []):
        outcome = "PASS" if step.get("ok") else "FAIL"
        lines.append(f"{outcome}  {step.get('name')}: {step.get('detail')}")
    ok = bool(result.get("ok"))
    lines.append("self-test passed" if ok else "self-test FAILED")
    return (0 if ok else 1), lines
