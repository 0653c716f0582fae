"""The harness's pure helpers, checked without Odoo or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.odoo import HarnessError, OdooTestRun, OdooTree, ServerShape, addon, cli
from devkit.odoo.postgres import PgCluster
from devkit.odoo.process import OdooPids, OdooProcess
from devkit.odoo.venv import venv_requirements


def make_tree(root: Path, release_line: str) -> Path:
    (root / "odoo").mkdir(parents=True)
    (root / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    (root / "odoo" / "release.py").write_text(f"RELEASE_LEVELS = []\n{release_line}\n")
    return root


@pytest.mark.parametrize(
    ("line", "version", "pos_path"),
    [
        ("version_info = (18, 0, 0, FINAL, 0, '')", "18.0", "/pos/ui?config_id=7"),
        ("version_info = (19, 0, 0, FINAL, 0, '')", "19.0", "/pos/ui/7"),
    ],
)
def test_tree_version_decides_pos_url(
    tmp_path: Path, line: str, version: str, pos_path: str
) -> None:
    tree = OdooTree.detect(make_tree(tmp_path, line))
    assert tree.version == version
    assert tree.pos_path(7) == pos_path


def test_demo_data_needs_a_flag_only_on_19(tmp_path: Path) -> None:
    # 18 loads demo data by default; 19 only with --with-demo (field notes).
    assert OdooTree(tmp_path, 18, 0).demo_args() == []
    assert OdooTree(tmp_path, 19, 0).demo_args() == ["--with-demo"]


def test_unsupported_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="17.0"):
        OdooTree.detect(make_tree(tmp_path, "version_info = (17, 0, 0, FINAL, 0, '')"))


def test_a_folder_without_odoo_bin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not an Odoo source tree"):
        OdooTree.detect(tmp_path)


def test_requirements_use_binary_psycopg2_and_drop_ldap() -> None:
    text = (
        "psycopg2==2.9.5 ; python_version == '3.11'\r\n"
        "python-ldap==3.4.0 ; sys_platform != 'win32'\r\n"
        "lxml==4.9.3\r\n"
    )
    lines = venv_requirements(text).splitlines()
    assert "psycopg2-binary==2.9.5 ; python_version == '3.11'" in lines
    assert not [line for line in lines if "ldap" in line]
    assert "lxml==4.9.3" in lines  # CRLF from a Windows checkout is gone
    assert "websocket-client" in lines  # HttpCase tours need it
    assert "setuptools>=77,<81" in lines  # the gevent process finds zope's wheels


def test_addon_fingerprint_ignores_runtime_only_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / addon.SYNC_MODULE
    (module / "static" / "src").mkdir(parents=True)
    (module / "__manifest__.py").write_text("{'name': 'x'}")
    monkeypatch.setattr(addon, "ADDONS_DIR", tmp_path)
    before = addon.addon_fingerprint()
    # JS is read from disk at run time: no new template for it.
    (module / "static" / "src" / "patch.js").write_text("// edit")
    assert addon.addon_fingerprint() == before
    # The manifest (or Python, or data) changes what an install does.
    (module / "__manifest__.py").write_text("{'name': 'y'}")
    assert addon.addon_fingerprint() != before


def test_test_run_is_ok_only_without_failures_or_errors(tmp_path: Path) -> None:
    good = "0 failed, 0 error(s) of 3 tests when loading database 'x'"
    assert OdooTestRun(0, good, tmp_path).ok
    assert not OdooTestRun(0, "1 failed, 0 error(s) of 3 tests", tmp_path).ok
    assert not OdooTestRun(1, good, tmp_path).ok
    assert not OdooTestRun(0, "no test summary in the log", tmp_path).ok


def test_the_command_line_chooses_workers_and_proxy() -> None:
    args = cli.parse_args(["--odoo-src", "/src", "--workers", "2", "--proxy", "nginx", "up"])
    assert (args.workers, args.proxy) == (2, "nginx")
    with pytest.raises(SystemExit):
        cli.parse_args(["--odoo-src", "/src", "--proxy", "apache", "up"])


def test_the_command_line_offers_up_test_pot_venv_and_clean(
    capsys: pytest.CaptureFixture,
) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    usage = capsys.readouterr().out
    assert usage.startswith("usage: python -m devkit.odoo")
    assert "{up,test,pot,venv,clean}" in usage


def test_pot_writes_the_addons_template_unless_told_otherwise() -> None:
    args = cli.parse_args(["--odoo-src", "/src", "pot"])
    assert args.out == addon.ADDONS_DIR / "pos_restaurant_sync/i18n/pos_restaurant_sync.pot"
    assert cli.parse_args(["--odoo-src", "/src", "pot", "--out", "x.pot"]).out == Path("x.pot")


def test_server_shape_comes_from_the_arguments_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POSSYNC_ODOO_WORKERS", raising=False)
    monkeypatch.delenv("POSSYNC_ODOO_PROXY", raising=False)
    assert ServerShape.chosen(None, None) == ServerShape(0, None)
    monkeypatch.setenv("POSSYNC_ODOO_WORKERS", "2")
    monkeypatch.setenv("POSSYNC_ODOO_PROXY", "nginx")
    assert ServerShape.chosen(None, None) == ServerShape(2, "nginx")
    assert ServerShape.chosen(4, "nginx-no-websocket") == ServerShape(4, "nginx-no-websocket")


@pytest.mark.parametrize(("workers", "proxy"), [(0, "apache"), (-1, None)])
def test_an_unknown_server_shape_is_refused(workers: int, proxy: str | None) -> None:
    with pytest.raises(HarnessError):
        ServerShape.chosen(workers, proxy)


def odoo_process(tmp_path: Path, **shape: object) -> OdooProcess:
    tree = OdooTree(make_tree(tmp_path / "src", "version_info = (19, 0)"), 19, 0)
    pg = PgCluster(tmp_path / "pg", bindir=tmp_path, port=5999)
    process = OdooProcess(tree, Path("python"), pg, tmp_path / "data", "db", tmp_path / "log", [])
    for name, value in shape.items():
        setattr(process, name, value)
    (tmp_path / "data").mkdir()
    return process


def test_one_process_serves_the_websocket_on_the_http_port(tmp_path: Path) -> None:
    process = odoo_process(tmp_path)
    args = process.args()
    assert args[args.index("--workers") + 1] == "0"
    assert "--gevent-port" not in args and "--proxy-mode" not in args
    assert process.websocket_port == process.http_port


def test_workers_serve_the_websocket_on_the_gevent_port(tmp_path: Path) -> None:
    process = odoo_process(tmp_path, workers=2, proxy_mode=True)
    args = process.args()
    assert args[args.index("--workers") + 1] == "2"
    assert args[args.index("--max-cron-threads") + 1] == "0"
    assert args[args.index("--gevent-port") + 1] == str(process.gevent_port)
    assert "--proxy-mode" in args
    assert process.websocket_port == process.gevent_port != process.http_port


def test_odoo_pids_list_the_master_first() -> None:
    pids = OdooPids(10, (11, 12), 13)
    assert pids.all == (10, 11, 12, 13)
    assert OdooPids(10).all == (10,)
