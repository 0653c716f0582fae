"""docs/agent.md documents every setting, environment variable, flag and error code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agent.cli import build_parser
from agent.settings import SECRET_ENV, Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "agent.md").read_text()
SETTINGS = [f.name for f in dataclasses.fields(Settings) if f.name != "data_dir"]


def _flags() -> list[str]:
    found = []
    for action in build_parser()._subparsers._group_actions:  # argparse has no public API
        for command in action.choices.values():
            found += [s for a in command._actions for s in a.option_strings if s != "-h"]
    return sorted(set(found) - {"--help"})


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_documented(name):
    assert f"`{name}`" in DOC


@pytest.mark.parametrize(
    "variable",
    [f"POSSYNC_{n.upper()}" for n in SETTINGS if n not in SECRET_ENV]
    + list(SECRET_ENV.values())
    + ["POSSYNC_DATA_DIR"],
)
def test_every_environment_variable_is_documented(variable):
    assert f"`{variable}`" in DOC


@pytest.mark.parametrize("flag", _flags())
def test_every_command_line_flag_is_documented(flag):
    assert f"`{flag}`" in DOC


@pytest.mark.parametrize(
    "code", ["bad_json", "too_large", "unknown_type", "invalid_change", "version"]
)
def test_every_page_error_code_is_documented(code):
    assert f"`{code}`" in DOC
