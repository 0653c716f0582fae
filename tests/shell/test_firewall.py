"""The peer port in the firewall: the Windows rule, the ufw profile, doctor's advice."""

from __future__ import annotations

import pytest

from agent.settings import DEFAULT_PEER_PORT, Settings
from shell import firewall


def test_the_default_peer_port_has_one_owner(tmp_path) -> None:
    assert Settings(data_dir=tmp_path).peer_port == DEFAULT_PEER_PORT


def test_the_windows_rule_is_inbound_tcp_private_and_local_subnet_only() -> None:
    add = firewall.windows_add_rule(9000)
    assert add[:5] == ["netsh", "advfirewall", "firewall", "add", "rule"]
    assert {"dir=in", "action=allow", "protocol=TCP", "localport=9000"} <= set(add)
    assert "profile=private" in add and "remoteip=localsubnet" in add
    assert not [arg for arg in add if arg.startswith("profile=") and arg != "profile=private"]
    assert firewall.windows_delete_rule()[-1] == f"name={firewall.RULE_NAME}" == add[5]
    assert " " not in firewall.RULE_NAME  # nothing to quote in netsh or Inno Setup


def test_the_ufw_profile_names_the_default_peer_port() -> None:
    lines = firewall.ufw_profile().splitlines()
    assert lines[0] == "[possync]" and f"ports={DEFAULT_PEER_PORT}/tcp" in lines
    assert {line.split("=")[0] for line in lines[1:]} == {"title", "description", "ports"}


def test_the_hint_speaks_each_platforms_firewall() -> None:
    windows = firewall.open_port_hint(9000, platform="win32")
    assert " ".join(firewall.windows_add_rule(9000)) in windows and "administrator" in windows
    assert "sudo ufw allow possync" in firewall.open_port_hint(9000, platform="linux")
    assert "port 9000" in firewall.open_port_hint(9000, platform="darwin")


@pytest.mark.parametrize(
    ("argv", "out"),
    [(["port"], f"{DEFAULT_PEER_PORT}\n"), (["ufw-profile"], firewall.ufw_profile())],
)
def test_the_command_prints_what_the_installers_need(argv, out, capsys) -> None:
    assert firewall.main(argv) == 0 and capsys.readouterr().out == out


def test_the_command_refuses_anything_else(capsys) -> None:
    assert firewall.main(["open"]) == 2 and "ufw-profile" in capsys.readouterr().err
