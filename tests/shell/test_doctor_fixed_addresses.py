"""`possync doctor`'s check of the fixed LAN addresses a POS manager set on the server
(shell/lan_checks.py), and its advice for a Wi-Fi that keeps the tablets apart."""

from __future__ import annotations

from pathlib import Path

from shell import lan_checks
from tests.shell.test_doctor import fake_agent, lan_outcomes


def test_no_fixed_address_set_skips_and_says_where_they_are_set(tmp_path: Path) -> None:
    result = lan_outcomes(tmp_path, fake_agent(tmp_path))["Fixed-peers"]
    assert result.outcome == "SKIP"
    assert "Point of Sale > Configuration > Sync Devices" in result.message


def test_the_client_isolation_hint_names_the_menu_where_addresses_are_set(tmp_path: Path) -> None:
    peers = lan_outcomes(tmp_path, fake_agent(tmp_path, devices=["t-a"]))["Peers"]
    assert "client isolation" in peers.message
    assert lan_checks.SYNC_DEVICES_MENU in peers.hint and "Fixed LAN Address" in peers.hint


def test_a_fixed_address_the_agent_synced_with_passes(tmp_path: Path) -> None:
    agent = fake_agent(
        tmp_path,
        devices=["t-a"],
        fixed_addresses={"t-a": "10.0.0.6"},
        peers=[{"terminal": "t-a", "url": "https://10.0.0.6:8765"}],
    )
    result = lan_outcomes(tmp_path, agent, connect=lambda a, p: False)["Fixed-peers"]
    assert result.outcome == "PASS" and "t-a" in result.message


def test_a_fixed_address_where_nothing_answers_warns_with_where_to_fix_it(tmp_path: Path) -> None:
    tried: list[tuple[str, int]] = []

    def closed(address: str, port: int) -> bool:
        tried.append((address, port))
        return False

    agent = fake_agent(
        tmp_path,
        devices=["t-a", "t-b"],
        fixed_addresses={"t-a": "10.0.0.6", "t-b": "[fd00::7]:9000"},
    )
    result = lan_outcomes(tmp_path, agent, connect=closed)["Fixed-peers"]
    # The agent's own peer port where the address names none (agent settings' default).
    others = [t for t in tried if t[0] != "10.0.0.5"]  # 10.0.0.5: this tablet's own port
    assert others == [("10.0.0.6", agent.settings.peer_port), ("fd00::7", 9000)]
    assert result.outcome == "WARN"
    assert "t-a at 10.0.0.6" in result.message and "t-b at [fd00::7]:9000" in result.message
    assert "Fixed LAN Address" in result.hint and "ufw" in result.hint


def test_a_fixed_address_that_answers_as_someone_else_warns(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path, devices=["t-a"], fixed_addresses={"t-a": "10.0.0.6:8765"})
    result = lan_outcomes(tmp_path, agent)["Fixed-peers"]  # open, never synced there
    assert result.outcome == "WARN" and "not yet as that tablet" in result.message
    assert "another machine" in result.hint
