"""The screenshots of docs/deploy.md that the desktop app's driver does not take.

    python -m tools.deploy_screenshots doctor OUT.png
        `possync doctor` on a tablet that reaches its peer at the fixed address set on the
        server: the stand-in Odoo and two agents on loopback (mDNS off), in a private
        home; the real output, drawn as a terminal window.
    python -m tools.deploy_screenshots devices ODOO_SRC OUT.png [--edit]
        Odoo's Sync Devices list on a real Odoo (devkit.odoo's harness; set
        POSSYNC_STATE_DIR): five devices registered through the addon's route, three with a
        Fixed LAN Address; with --edit, a manager typing one more.

Run under Xvfb (`xvfb-run -a -s "-screen 0 1280x800x24" python -m ...`): chromium draws
both, through Playwright, on Debian's chromium.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import tempfile
import time
from pathlib import Path

from devkit.chromium import CHROMIUM, CHROMIUM_ARGS

TERMINAL_PAGE = """<html><body style="margin:0;background:#2b2b2b">
<div style="margin:12px;border-radius:6px;overflow:hidden;box-shadow:0 2px 8px #000">
<div style="background:#444;color:#ddd;font:13px sans-serif;padding:6px 10px">Terminal</div>
<pre style="margin:0;padding:12px 14px;background:#1e1e1e;color:#e6e6e6;
font:14px/1.45 'DejaVu Sans Mono',monospace;white-space:pre-wrap">
<span style="color:#8ae234">waiter@tablet-1</span>:~$ {prompt}
{text}</pre></div></body></html>"""
FIXED = ["192.168.1.21", "192.168.1.22", "", "192.168.1.24", ""]


def doctor_output() -> str:
    """`possync doctor`'s lines on tablet A, whose peer B is reached at its fixed address."""
    home = Path(tempfile.mkdtemp(prefix="possync-shot-"))
    os.environ |= {"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    from agent import runtime
    from devkit.standin_odoo import PASSWORD, running
    from shell import doctor, paths, settings
    from shell.credentials import Credentials
    from shell.settings import Settings
    from shell.supervisor import AgentSupervisor, child_env

    with running() as server:
        configured = Settings(
            server.url, "restaurant", "waiter", 2, "Restaurant", secret_store="file"
        )
        settings.save(configured)
        Credentials().put(configured, PASSWORD)
        folders = [paths.agent_data_dir(), home / "tablet-b"]
        env = child_env({"POSSYNC_PAGE_TOKEN": "t", "POSSYNC_PASSWORD": PASSWORD})
        agents = [AgentSupervisor(_agent_command(d, server.url), env) for d in folders]
        for agent in agents:
            agent.start()
        try:
            for agent in agents:
                if agent.wait_listening(30) is None:
                    raise SystemExit("an agent did not start")
            _wait(lambda: len(server.standin.active_devices()) == 2)
            for folder in folders:
                info = runtime.read(folder)
                address = f"127.0.0.1:{info['peer_port']}"
                server.standin.set_lan_address(info["terminal"], address)
            time.sleep(12)  # both agents read the list again (devices_refresh_s = 2)
            return "\n".join(doctor.command(configured)[1])
        finally:
            for agent in agents:
                agent.stop()


def _agent_command(folder: Path, server: str):
    from shell import paths

    values = {"server": server, "db": "restaurant", "login": "waiter", "config_id": 2,
              "peer_host": "127.0.0.1", "mdns": False, "device_key_store": "file",
              "allow_insecure_http": True, "devices_refresh_s": 2}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    lines = (f"{name} = {json.dumps(value)}\n" for name, value in values.items())
    (folder / "agent.toml").write_text("".join(lines))

    def command(port: int) -> list[str]:
        args = ["--data-dir", str(folder), "--page-port", str(port), "--peer-port", "0"]
        return paths.agent_command(["run", *args, "--no-mdns"])

    return command


def _wait(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.3)


def devices_shot(odoo_src: str, out: str, edit: bool) -> None:
    from devkit.odoo import Harness

    with Harness(odoo_src) as harness:
        odoo = harness.up()
        odoo.rpc.authenticate()
        for address in FIXED:
            identity = {
                "config_id": odoo.config_id,
                "terminal": "t-" + os.urandom(8).hex(),
                "public_key": base64.b64encode(os.urandom(32)).decode(),
                "certificate_sha256": hashlib.sha256(os.urandom(8)).hexdigest(),
            }
            device = odoo.rpc.request("/pos_restaurant_sync/device/register", identity)
            if address:
                values = {"lan_address": address}
                odoo.jsonrpc("pos_restaurant_sync.device", "write", [[device["device_id"]], values])
        with _page(560) as page:
            page.goto(f"{odoo.base_url}/web/login?db={odoo.db}")
            page.fill("input[name=login]", odoo.login)
            page.fill("input[name=password]", odoo.password)
            page.click("button[type=submit]")
            page.wait_for_url("**/odoo**", timeout=60000)
            action = "pos_restaurant_sync.action_pos_restaurant_sync_device"
            page.goto(f"{odoo.base_url}/odoo/action-{action}")
            page.wait_for_selector(".o_list_view .o_data_row", timeout=60000)
            if edit:
                page.locator(".o_data_row").first.locator("td[name=lan_address]").click()
                page.keyboard.type("192.168.1.20")
            page.wait_for_timeout(1500)
            page.screenshot(path=out)


class _page:
    """A chromium page (Playwright), closed with its browser."""

    def __init__(self, height: int) -> None:
        self.height = height

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=False
        )
        return self._browser.new_page(viewport={"width": 1280 if self.height > 450 else 1180,
                                                "height": self.height})  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        self._browser.close()
        self._playwright.stop()


def doctor_shot(out: str) -> None:
    text = doctor_output()
    print(text)
    with _page(400) as page:
        page.set_content(TERMINAL_PAGE.format(prompt="possync doctor", text=html.escape(text)))
        page.screenshot(path=out, full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor").add_argument("out")
    devices = commands.add_parser("devices")
    devices.add_argument("odoo_src")
    devices.add_argument("out")
    devices.add_argument("--edit", action="store_true")
    args = parser.parse_args()
    if args.command == "doctor":
        doctor_shot(args.out)
    else:
        devices_shot(args.odoo_src, args.out, args.edit)


if __name__ == "__main__":
    main()
