"""The docs say what the code does: each test fails, naming the thing, when they disagree.

- every function a doc cites as `path/file.py:name`, `path/file.js:Class.method` exists;
- every file a doc names exists;
- every setting of the app and the agent is documented, and every documented one exists;
- every subcommand and flag of `possync` and `possync-agent` is documented, and vice versa;
- the installer's files, build flags, outputs and JSON keys are those docs/installer.md names;
- the addon's README.rst is what tools/gen_addon_readme.py makes from its readme/.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
from functools import cache
from pathlib import Path

import pytest

from agent import settings as agent_settings
from agent.cli import build_parser as agent_parser
from shell import settings as shell_settings
from shell.cli import AGENT_FLAG
from shell.cli import _parser as shell_parser
from tools import gen_addon_readme

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
ADDON = "addon/pos_restaurant_sync/"


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under the heading that starts with `heading`, up to the next heading of
    the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(heading)}.*$", text, re.M)
    if not match:
        return ""  # test_the_sections_these_tests_read_exist names it
    level = len(match[1])
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, match.end())
    return text[match.end() : end.start() if end else len(text)]


def first_column(text: str) -> list[str]:
    """The first cell of each body row of the markdown tables in `text`."""
    cells, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = line.split("|")[1].strip()
        if not in_table:  # the header row; the separator row follows
            in_table = True
        elif not set(first) <= set("-: "):
            cells.append(first)
    return cells


def code_names(text: str) -> set[str]:
    """Names written as code (`name`) in `text`, outside fenced blocks."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return set(re.findall(r"`([^`\n]+)`", text))


SECTIONS_READ = [
    ("docs/shell.md", "Settings"),
    ("docs/shell.md", "Commands"),
    ("docs/agent.md", "Settings"),
    ("docs/agent.md", "Command line"),
    ("docs/installer.md", "Linux: bundle and"),
]


@pytest.mark.parametrize(("doc", "heading"), SECTIONS_READ)
def test_the_sections_these_tests_read_exist(doc, heading):
    assert section(read(doc), heading).strip(), f"{doc} has no section {heading!r}"


# --- functions the docs cite -------------------------------------------------------------

CITATION = re.compile(r"`((?:…/)?[\w./-]+\.(?:py|js)):(\w+(?:\.\w+)?)`")


def repo_path(path: str) -> str:
    """A path as the docs write it, from the repository's root (`…/` is the addon)."""
    return path.replace("…/", ADDON, 1) if path.startswith("…/") else path


def citations() -> list[tuple[str, str, str]]:
    found = set()
    for doc in DOCS:
        for path, name in CITATION.findall(doc.read_text(encoding="utf-8")):
            found.add((doc.name, repo_path(path), name))
    return sorted(found)


@cache
def python_names(path: str) -> set[str]:
    """Top-level functions, classes and constants, and `Class.method` for every method."""
    names = set()
    for node in ast.parse(read(path)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}.{item.name}")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


JS_TOP = re.compile(
    r"^(?:export\s+)?(?:async\s+)?(?:function\*?|class|const|let|var)\s+(\w+)", re.M
)
JS_METHOD = re.compile(r"^\s+(?:static\s+|async\s+|get\s+|set\s+)*(\w+)\s*\(", re.M)


@cache
def js_names(path: str) -> set[str]:
    """Top-level functions, classes and constants, and `Name.method` for the methods of a
    class or of a top-level object literal (Odoo's services)."""
    text = read(path)
    tops = list(JS_TOP.finditer(text))
    names = set()
    for i, top in enumerate(tops):
        names.add(top[1])
        body = text[top.end() : tops[i + 1].start() if i + 1 < len(tops) else len(text)]
        keywords = {"if", "for", "while", "switch", "catch", "return", "function"}
        names.update(f"{top[1]}.{m}" for m in JS_METHOD.findall(body) if m not in keywords)
    return names


def defined_in(path: str, name: str) -> bool:
    return name in (python_names(path) if path.endswith(".py") else js_names(path))


@pytest.mark.parametrize(("doc", "path", "name"), citations())
def test_every_cited_function_exists(doc, path, name):
    assert (ROOT / path).is_file(), f"{doc} cites {path}, which does not exist"
    assert defined_in(path, name), f"{doc} cites {path}:{name}, which {path} does not define"


def test_the_life_of_a_change_cites_functions():
    assert sum(doc == "architecture.md" for doc, _, _ in citations()) >= 60


def architecture_bare_names() -> list[str]:
    """`Class.method` and `function` written without a path in architecture.md, for the
    names the same page cites with a path somewhere."""
    cited = {name for doc, _, name in citations() if doc == "architecture.md"}
    owners = {name.split(".")[0] for name in cited}
    text = read("docs/architecture.md")
    bare = set()
    for code in code_names(text):
        name = re.sub(r"\(.*\)$", "", code)
        method = re.fullmatch(r"\w+\.\w+", name) and name.split(".")[0] in owners
        if method or (re.fullmatch(r"\w+", name) and name in cited):
            bare.add(name)
    return sorted(bare)


@pytest.mark.parametrize("name", architecture_bare_names())
def test_every_name_architecture_md_uses_without_a_path_exists(name):
    owner = name.split(".")[0]
    paths = {path for doc, path, cited in citations() if cited.split(".")[0] == owner}
    assert any(defined_in(path, name) for path in paths), f"{name} is in none of {paths}"


# --- files the docs name -----------------------------------------------------------------

TOP_DIRS = "agent|shell|addon|tests|bench|devkit|installer|docs|tools"
FILE = re.compile(
    rf"(?<![\w/.…-])((?:…/|(?:{TOP_DIRS})/)[\w./-]*?"
    r"(?:\.(?:py|js|md|sh|xml|rst|spec|iss|csv|html|json|toml|png|svg|ico|scss|desktop|in)\b|/))"
)


def named_files() -> list[tuple[str, str]]:
    found = set()
    for doc in DOCS:
        for path in FILE.findall(doc.read_text(encoding="utf-8")):
            if path.startswith("…/") and doc.name != "architecture.md":
                continue  # elsewhere …/ abbreviates a folder of the machine, not of the repo
            found.add((doc.name, path))
    return sorted(found)


@pytest.mark.parametrize(("doc", "path"), named_files())
def test_every_named_file_exists(doc, path):
    assert (ROOT / repo_path(path)).exists(), f"{doc} names {path}"


# --- settings ----------------------------------------------------------------------------

SHELL_DOC = read("docs/shell.md")
AGENT_DOC = read("docs/agent.md")
SHELL_SETTINGS = [f.name for f in dataclasses.fields(shell_settings.Settings)]
AGENT_SETTINGS = [f.name for f in dataclasses.fields(agent_settings.Settings)]


def documented(doc: str, heading: str) -> list[str]:
    return [cell.strip("`") for cell in first_column(section(doc, heading))]


@pytest.mark.parametrize("name", SHELL_SETTINGS)
def test_every_app_setting_is_documented(name):
    assert name in documented(SHELL_DOC, "Settings")


@pytest.mark.parametrize("name", documented(SHELL_DOC, "Settings"))
def test_every_documented_app_setting_exists(name):
    assert name in SHELL_SETTINGS


@pytest.mark.parametrize("name", [n for n in AGENT_SETTINGS if n != "data_dir"])
def test_every_agent_setting_is_documented(name):
    assert name in documented(AGENT_DOC, "Settings")


@pytest.mark.parametrize("name", documented(AGENT_DOC, "Settings"))
def test_every_documented_agent_setting_exists(name):
    assert name in AGENT_SETTINGS


@pytest.mark.parametrize(
    "variable",
    [
        f"POSSYNC_{n.upper()}"
        for n in AGENT_SETTINGS
        if n not in agent_settings.SECRET_ENV and n != "data_dir"
    ]
    + list(agent_settings.SECRET_ENV.values())
    + ["POSSYNC_DATA_DIR"],
)
def test_every_agent_environment_variable_is_documented(variable):
    assert f"`{variable}`" in AGENT_DOC


@pytest.mark.parametrize(
    "code", ["bad_json", "too_large", "unknown_type", "invalid_change", "version"]
)
def test_every_page_error_code_is_documented(code):
    assert f"`{code}`" in AGENT_DOC


# --- command lines -----------------------------------------------------------------------


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public API for this
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"}


def app_commands_in_code() -> set[str]:
    parser = shell_parser()
    choices = next(a.choices for a in parser._actions if a.dest == "command")
    return set(choices) | flags(parser) | {AGENT_FLAG}


def app_commands_in_docs() -> set[str]:
    """The subcommands and flags in the first column of docs/shell.md's "Commands"."""
    found = set()
    for cell in first_column(section(SHELL_DOC, "Commands")):
        for command in re.findall(r"`possync([^`]*)`", cell):
            words = (word.strip("[]") for word in command.split())
            found.update(word for word in words if word and not word.isupper())
    return found


@pytest.mark.parametrize("word", sorted(app_commands_in_code()))
def test_every_app_command_and_flag_is_documented(word):
    assert word in app_commands_in_docs()


@pytest.mark.parametrize("word", sorted(app_commands_in_docs()))
def test_every_documented_app_command_and_flag_exists(word):
    assert word in app_commands_in_code()


def agent_commands_in_code() -> set[tuple[str, str]]:
    found = set()
    for name, parser in subcommands(agent_parser()).items():
        found |= {(name, "")} | {(name, flag) for flag in flags(parser)}
    return found


def agent_commands_in_docs() -> set[tuple[str, str]]:
    """From the usage lines of docs/agent.md's "Command line"."""
    found, command = set(), None
    for line in section(AGENT_DOC, "Command line").splitlines():
        if not line.startswith("    "):
            continue
        if match := re.match(r"\s+possync-agent (\w+)", line):
            command = match[1]
            found.add((command, ""))
        found |= {(command, flag) for flag in re.findall(r"--[a-z][\w-]*", line)}
    return found


@pytest.mark.parametrize(("command", "flag"), sorted(agent_commands_in_code()))
def test_every_agent_command_and_flag_is_documented(command, flag):
    assert (command, flag) in agent_commands_in_docs()
    assert not flag or f"`{flag}`" in AGENT_DOC  # explained, not only in the usage line


@pytest.mark.parametrize(("command", "flag"), sorted(agent_commands_in_docs()))
def test_every_documented_agent_command_and_flag_exists(command, flag):
    assert (command, flag) in agent_commands_in_code()


# --- the installer -----------------------------------------------------------------------

INSTALLER_DOC = read("docs/installer.md")
BUILD_SH = read("installer/build.sh")


def installer_paths() -> list[str]:
    return sorted({p for p in code_names(INSTALLER_DOC) if p.startswith("installer/")})


@pytest.mark.parametrize("path", installer_paths())
def test_every_installer_file_named_exists(path):
    assert (ROOT / path.split()[0]).exists()


def build_outputs() -> set[str]:
    """build.sh's BUNDLE, TARBALL, DEB and APT_REPO, with `<version>` and `<arch>` for the
    variables."""
    outputs = set()
    assigned = r'^\s*(?:BUNDLE|TARBALL|DEB|APT_REPO)="\$OUT/([^"]+)"'
    for value in re.findall(assigned, BUILD_SH, re.M):
        for var, word in (("VERSION", "<version>"), ("ARCH", "<arch>")):
            value = value.replace(f"${{{var}}}", word).replace(f"${var}", word)
        outputs.add(value)
    return outputs


def documented_outputs() -> set[str]:
    text = section(INSTALLER_DOC, "Linux: bundle and")
    return {m.rstrip("/") for m in re.findall(r"^- `([^`]+)`", text, re.M)}


def test_the_installer_outputs_are_the_documented_ones():
    assert build_outputs() == documented_outputs()


def test_the_build_json_keys_are_the_documented_ones():
    script = BUILD_SH[BUILD_SH.index("json.dumps(") :]
    in_code = set(re.findall(r'^\s*"(\w+)":', script, re.M))
    sentence = re.search(r"Its last line is JSON: (.*?)\(", INSTALLER_DOC, re.S)[1]
    assert in_code == set(re.findall(r"`(\w+)`", sentence))


@pytest.mark.parametrize("flag", re.findall(r"^\s*(--[\w-]+)\)", BUILD_SH, re.M))
def test_every_build_flag_is_documented(flag):
    assert f"installer/build.sh {flag}" in INSTALLER_DOC


@pytest.mark.parametrize("flag", re.findall(r"installer/build\.sh (--[\w-]+)", INSTALLER_DOC))
def test_every_documented_build_flag_exists(flag):
    assert f"{flag})" in BUILD_SH


@pytest.mark.parametrize("variable", sorted(set(re.findall(r"\$\{(POSSYNC_\w+)", BUILD_SH))))
def test_every_build_environment_variable_is_documented(variable):
    assert re.search(rf"`\$?{variable}", INSTALLER_DOC)


# --- the addon's README.rst --------------------------------------------------------------


def test_the_addon_readme_is_generated_from_its_fragments():
    addon = ROOT / ADDON
    expected = gen_addon_readme.render(addon)
    assert (addon / "README.rst").read_text(encoding="utf-8") == expected, (
        "README.rst differs from readme/: run python -m tools.gen_addon_readme"
    )


def test_the_addon_readme_is_valid_restructuredtext():
    core = pytest.importorskip("docutils.core")
    text = (ROOT / ADDON / "README.rst").read_text(encoding="utf-8")
    core.publish_doctree(text, settings_overrides={"halt_level": 2})  # a warning raises


@pytest.mark.parametrize(
    "markdown", ["1. a numbered list", "> a quote", "```\ncode\n```", "## a level-2 heading"]
)
def test_the_readme_generator_refuses_markdown_it_cannot_convert(markdown):
    with pytest.raises(gen_addon_readme.UnsupportedMarkdown):
        gen_addon_readme.markdown_to_rst(markdown)


def test_the_readme_generator_converts_code_links_and_table_images():
    rst = gen_addon_readme.markdown_to_rst(
        "See `x` and [docs](https://e.org).\n\n| a |\n|---|\n| ![alt](../static/p.png) |"
    )
    assert "See ``x`` and `docs <https://e.org>`_." in rst
    assert ".. image:: static/p.png" in rst and ":alt: alt" in rst
