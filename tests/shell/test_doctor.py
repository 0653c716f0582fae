"""`possync doctor`: a line for each thing a terminal needs and what to do, its exit code,
its JSON, and its LAN checks (with fakes, or on loopback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail

from agent.discovery import Discovery, browse, config_tag
from agent.settings import Settings as AgentSettings
from agent.version import version
from devkit.standin_odoo import PASSWORD, Faults, Options, StandInServer, running
from shell import checks, cli, doctor, lan_checks, paths, settings
from shell.checks import PASS, WARN, Result
from shell.credentials import Credentials
from shell.settings import Settings
from shell.supervisor import AgentSupervisor, child_env
from tests.shell.test_supervisor import agent_command


def configure(url: str, store: str = "keyring") -> Settings:
    configured = Settings(url, "restaurant", "waiter", 2, "Restaurant", secret_store=store)
    settings.save(configured)
    Credentials().put(configured, PASSWORD)
    return configured


def outcomes(configured: Settings) -> dict[str, str]:
    return {result.name: result.outcome for result in doctor.run(configured)}


def test_a_healthy_terminal_passes_everything(standin_server: StandInServer) -> None:
    code, lines = doctor.command(configure(standin_server.url))
    assert code == 0, lines
    names = [line.split()[1] for line in lines[:-1]]
    local = ["Server", "Clock", "Login", "Addon", "Update", "Websocket", "Keyring", "Disk"]
    assert names == [*local, *lan_checks.NAMES]
    assert all(line.startswith("PASS") for line in lines[: len(local)])
    # The LAN checks look at the running agent: possync is not running here.
    assert all(line.startswith("SKIP") and "not running" in line for line in lines[len(local) : -1])
    assert lines[-1] == "All checks passed."


def test_a_clock_off_by_minutes_fails_with_what_to_do() -> None:
    with running(Options(clock_offset_s=-300)) as server:
        code, lines = doctor.command(configure(server.url))
    assert code == 1
    clock = next(line for line in lines if " Clock " in line)
    assert clock.startswith("FAIL") and "s ahead of the server's" in clock
    assert "possync corrects its own stamps" in clock
    assert "NTP" in lines[lines.index(clock) + 1]


def test_a_clock_a_few_seconds_off_passes_and_says_possync_corrects_it() -> None:
    with running(Options(clock_offset_s=10)) as server:
        code, lines = doctor.command(configure(server.url))
    clock = next(line for line in lines if " Clock " in line)
    assert clock.startswith("PASS") and "behind the server's" in clock
    assert "possync corrects" in clock and code == 0


def test_an_unreachable_server_fails_and_skips_what_depends_on_it() -> None:
    result = outcomes(configure("http://127.0.0.1:9"))
    assert result["Server"] == "FAIL"
    unchecked = ("Clock", "Login", "Addon", "Update", "Websocket")
    assert {result[name] for name in unchecked} == {"SKIP"}
    assert result["Disk"] == "PASS"


def test_a_missing_addon_and_a_blocked_websocket_each_fail() -> None:
    blocked = Faults(websocket=False, websocket_status=502)
    with running(Options(addon="missing", faults=blocked)) as server:
        result = outcomes(configure(server.url))
    assert (result["Login"], result["Addon"], result["Websocket"]) == ("PASS", "FAIL", "FAIL")


def test_a_proxy_without_the_websocket_route_fails_websocket_with_the_route_to_add() -> None:
    # Behind nginx without the /websocket location, Odoo's HTTP workers answer 400
    # (tests/realodoo/test_proxy_without_websocket.py); the tablets then poll.
    with running(Options(faults=Faults(websocket=False, websocket_status=400))) as server:
        code, lines = doctor.command(configure(server.url))
    websocket = next(line for line in lines if " Websocket " in line)
    assert websocket.startswith("FAIL") and "HTTP 400" in websocket
    hint = lines[lines.index(websocket) + 1]
    assert "/websocket" in hint and "gevent port" in hint and "polls" in hint
    assert code == 1


def test_an_update_available_warns_from_and_to_with_what_to_do() -> None:
    with running(Options(app_latest_version="99.0")) as server:
        code, lines = doctor.command(configure(server.url))
    update = next(line for line in lines if " Update " in line)
    assert update.startswith("WARN") and f"update available ({version()} → 99.0)" in update
    assert "apt upgrade" in lines[lines.index(update) + 1] and code == 0


def test_an_app_too_old_for_the_server_fails_with_the_minimum_and_what_to_do() -> None:
    with running(Options(app_min_version="99.0", app_latest_version="99.1")) as server:
        code, lines = doctor.command(configure(server.url))
    update = next(line for line in lines if " Update " in line)
    assert update.startswith("FAIL") and "too old for this server (needs ≥ 99.0)" in update
    assert "update possync on this tablet" in lines[lines.index(update) + 1].lower()
    assert code == 1


def test_a_server_that_names_no_app_versions_skips_the_update_check() -> None:
    with running(Options(app_min_version=None, app_latest_version=None)) as server:
        assert outcomes(configure(server.url))["Update"] == "SKIP"


def test_no_keyring_fails_and_says_where_the_password_is(standin_server: StandInServer) -> None:
    keyring.set_keyring(fail.Keyring())
    configured = configure(standin_server.url, store="file")
    lines = [line for r in doctor.run(configured) for line in r.lines()]
    keyring_line = next(line for line in lines if " Keyring " in line)
    assert keyring_line.startswith("FAIL") and "private file, as chosen" in keyring_line
    assert any("Login" in line and line.startswith("PASS") for line in lines)


def test_not_set_up_yet_says_how_to_start() -> None:
    code, lines = doctor.command(Settings())
    assert code == 1 and lines[0].startswith("FAIL  Settings")
    assert "setup screen" in lines[1]


# --- exit code and JSON --------------------------------------------------------------------


def test_a_keyring_nothing_uses_is_skipped_not_failed(standin_server: StandInServer) -> None:
    keyring.set_keyring(fail.Keyring())
    agent_toml(device_key_store="file")
    code, lines = doctor.command(configure(standin_server.url, store="file"))
    keyring_line = next(line for line in lines if " Keyring " in line)
    assert keyring_line.startswith("SKIP") and "Not used" in keyring_line
    assert "private file, as chosen" in keyring_line and "device key in the data folder" in (
        keyring_line
    )
    assert code == 0 and lines[-1] == "All checks passed."


def test_a_keyring_the_device_key_needs_fails_even_when_the_password_is_asked() -> None:
    keyring.set_keyring(fail.Keyring())
    result = {r.name: r for r in doctor.run(configure("http://127.0.0.1:9", store="ask"))}
    assert result["Keyring"].outcome == "FAIL"
    assert "asked at each start" in result["Keyring"].message
    assert "device key in the keyring" in result["Keyring"].message


def test_json_for_monitoring(standin_server: StandInServer) -> None:
    code, lines = doctor.command(configure(standin_server.url), as_json=True)
    report = json.loads("\n".join(lines))
    assert code == 0 and report["status"] == "ok" and report["version"] == version()
    checks = {check["name"]: check for check in report["checks"]}
    assert set(checks) == {"Server", "Clock", "Login", "Addon", "Update", "Websocket", "Keyring",
                           "Disk", *lan_checks.NAMES}  # fmt: skip
    assert checks["Server"]["status"] == "ok" and checks["Peers"]["status"] == "skipped"
    assert all(set(check) == {"name", "status", "message", "hint"} for check in checks.values())


def test_json_and_exit_code_of_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    configure("http://127.0.0.1:9")
    assert cli.main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    server = next(check for check in report["checks"] if check["name"] == "Server")
    assert report["status"] == "failed" and server["status"] == "failed" and server["hint"]


def test_warnings_alone_exit_zero() -> None:
    results = [Result("mDNS", WARN, "nobody", "start the others"), Result("Disk", PASS, "ok")]
    assert checks.overall(results) == "warning"
    assert Result("mDNS", WARN, "nobody", "x").as_json()["status"] == "warning"
    assert [line[:4] for r in results for line in r.lines()] == ["WARN", "    ", "PASS"]


# --- the LAN ------------------------------------------------------------------------------


def agent_toml(**values: object) -> None:
    folder = paths.agent_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agent.toml").write_text(
        "".join(f"{name} = {json.dumps(value)}\n" for name, value in values.items())
    )


def test_the_lan_checks_of_a_running_agent_on_loopback(standin_server: StandInServer) -> None:
    agent_toml(peer_host="127.0.0.1", mdns=False, device_key_store="file")
    env = child_env({"POSSYNC_PAGE_TOKEN": "t"})
    running = AgentSupervisor(agent_command(paths.agent_data_dir()), env)
    running.start()
    try:
        assert running.wait_listening(20) is not None
        code, lines = doctor.command(configure(standin_server.url))
    finally:
        running.stop()
    port = next(line for line in lines if " Peer-port " in line)
    assert port.startswith("PASS") and "listens on 127.0.0.1:" in port
    assert next(line for line in lines if " mDNS " in line).startswith("SKIP  mDNS        off")
    peers = next(line for line in lines if " Peers " in line)
    assert peers.startswith("PASS") and "lists no other tablet" in peers
    assert code == 0, lines


def fake_agent(tmp_path: Path, **status: object) -> lan_checks.RunningAgent:
    settings = AgentSettings(data_dir=tmp_path, peer_host="10.0.0.5")
    answer = {"peers": [], "devices": [], "peer_cause": None, **status}
    return lan_checks.RunningAgent("t-me", 8765, answer, settings)


def lan(tmp_path: Path, agent: lan_checks.RunningAgent, **parts: Any) -> lan_checks.Lan:
    async def nobody(tag: str, seconds: float, interfaces: list[str], own: str) -> dict:
        return {}

    defaults: dict[str, Any] = {
        "find_agent": lambda _: agent, "browse": nobody, "connect": lambda a, p: True,
        "platform": "linux",
    }  # fmt: skip
    return lan_checks.Lan(agent_data_dir=tmp_path, **(defaults | parts))


def lan_outcomes(tmp_path: Path, agent: lan_checks.RunningAgent, **parts: Any) -> dict:
    configured = Settings("https://pos.example", "restaurant", "waiter", 2)
    results = lan_checks.run(configured, lan(tmp_path, agent, **parts))
    return {result.name: result for result in results}


def test_a_closed_peer_port_fails_with_the_firewall_and_peer_host_advice(tmp_path: Path) -> None:
    tried: list[tuple[str, int]] = []

    def closed(address: str, port: int) -> bool:
        tried.append((address, port))
        return False

    port = lan_outcomes(tmp_path, fake_agent(tmp_path), connect=closed)["Peer-port"]
    assert tried == [("10.0.0.5", 8765)]
    assert port.outcome == "FAIL" and "10.0.0.5:8765" in port.message
    assert "peer_host" in port.hint and "sudo ufw allow possync" in port.hint


def test_windows_without_the_installers_firewall_rule_warns(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path)
    missing = lan_outcomes(tmp_path, agent, platform="win32", rule_present=lambda: False)
    assert missing["Peer-port"].outcome == "WARN"
    assert "netsh advfirewall firewall add rule" in missing["Peer-port"].hint
    present = lan_outcomes(tmp_path, agent, platform="win32", rule_present=lambda: True)
    assert present["Peer-port"].outcome == "PASS"


def test_mdns_browses_for_this_pos_from_the_agents_interfaces(tmp_path: Path) -> None:
    asked: list[tuple] = []

    async def two(tag: str, seconds: float, interfaces: list[str], own: str) -> dict:
        asked.append((tag, interfaces, own))
        return {"t-b": "https://10.0.0.7:8765", "t-a": "https://10.0.0.6:8765"}

    agent = fake_agent(tmp_path, devices=["t-a", "t-b"], peers=[{"terminal": "t-a"}])
    agent.settings.mdns_interfaces = ["10.0.0.5"]
    result = lan_outcomes(tmp_path, agent, browse=two)
    assert asked == [(config_tag("https://pos.example", "restaurant", 2), ["10.0.0.5"], "t-me")]
    assert result["mDNS"].outcome == "PASS" and "t-a, t-b" in result["mDNS"].message
    assert result["Peers"].outcome == "PASS" and "1 of the 2" in result["Peers"].message


def test_nobody_on_mdns_warns(tmp_path: Path) -> None:
    result = lan_outcomes(tmp_path, fake_agent(tmp_path))
    assert result["mDNS"].outcome == "WARN"
    assert result["Peers"].outcome == "PASS"  # the server lists no other tablet


def test_a_wifi_that_keeps_its_clients_apart_is_told_with_the_fix(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path, devices=["t-a", "t-b"])
    peers = lan_outcomes(tmp_path, agent)["Peers"]
    assert peers.outcome == "WARN" and "client isolation" in peers.message
    assert "t-a, t-b" in peers.message
    assert "fixed address" in peers.hint and "`peers` setting" in peers.hint


def test_tablets_seen_but_never_reached_point_at_the_firewall(tmp_path: Path) -> None:
    async def one(tag: str, seconds: float, interfaces: list[str], own: str) -> dict:
        return {"t-a": "https://10.0.0.6:8765"}

    peers = lan_outcomes(tmp_path, fake_agent(tmp_path, devices=["t-a"]), browse=one)["Peers"]
    assert peers.outcome == "WARN" and "no exchange has worked" in peers.message
    assert "ufw" in peers.hint


def test_no_lan_sync_at_all_fails_with_the_agents_cause(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path, peer_cause="no device key, so no sync with other terminals")
    agent.peer_port = None
    result = lan_outcomes(tmp_path, agent)
    assert result["Peers"].outcome == "FAIL" and "no device key" in result["Peers"].message
    assert result["Peer-port"].outcome == "SKIP" and "Peers says why" in result["Peer-port"].message


def test_mdns_off_is_skipped(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path)
    agent.settings.mdns, agent.settings.peers = False, ["https://10.0.0.6:8765"]
    mdns = lan_outcomes(tmp_path, agent)["mDNS"]
    assert mdns.outcome == "SKIP" and "1 fixed peer" in mdns.message


async def test_browse_finds_the_other_tablets_of_this_pos_on_loopback() -> None:
    tag, other = config_tag("https://pos.example", "restaurant", 2), config_tag(
        "https://pos.example", "restaurant", 3
    )
    announced = []
    for terminal, announced_tag in (("t-a", tag), ("t-me", tag), ("t-x", other)):
        found = Discovery(terminal, 8765, "127.0.0.1", ["127.0.0.1"], lambda *_: None)
        await found.start(announced_tag)
        announced.append(found)
    try:
        seen = await browse(tag, 2.0, ["127.0.0.1"], own="t-me")
    finally:
        for found in announced:
            await found.close()
    assert seen == {"t-a": "https://127.0.0.1:8765"}
