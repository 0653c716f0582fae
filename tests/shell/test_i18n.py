"""Translations: every user-facing text is in a catalog, French and Spanish are complete,
and the app speaks the Odoo user's language, else the system's."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.standin_odoo import API_KEY, PASSWORD, Options, running
from shell import checks, i18n, odoo_probe
from shell import settings as settings_mod
from shell.localserver import LocalServer
from tools import addon_po
from tools import i18n as catalogs


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    i18n.use("en")


# ------------------------------------------------------------------ the catalogs


def test_every_user_facing_text_is_translatable_and_translated() -> None:
    # Prose outside _()/t(), a stale .pot, or a French or Spanish entry missing.
    assert [str(p) for p in catalogs.check()] == []


PYTHON_MODULE = (
    '"""Docstrings are not shown."""\n'
    'log.info("logged, not shown")\n'
    'shown = _("Wrapped text is fine.")\n'
    'hint = "Check the address of the server."\n'
    'message = f"Nothing answers at {url}."\n'
    'result = passed("Server", _("Fine."))\n'
    'query = "SELECT id FROM x"  # i18n: ignore\n'
)
PAGE_SCRIPT = (
    '// "A comment is not shown"\n'
    'el.textContent = t("Saved. Opening the POS…");\n'
    'el.textContent = t("Insecure: with an http:// server " +\n'
    '  "on another computer.");\n'
    'el.textContent = "Fill in the form first.";\n'
)


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("page.py", PYTHON_MODULE, [
            "check name not in N_(): 'Server'",
            "not in _(): 'Check the address of the server.'",
            "not in _(): 'Nothing answers at  {} .'",  # an f-string: its fixed parts
        ]),
        ("page.js", PAGE_SCRIPT, ["not in t(): 'Fill in the form first.'"]),
    ],
)  # fmt: skip
def test_a_text_outside_the_translation_calls_is_caught(
    tmp_path: Path, monkeypatch, name: str, source: str, expected: list[str]
) -> None:
    monkeypatch.setattr(catalogs, "ROOT", tmp_path)
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    checker = catalogs.unwrapped_python if name.endswith(".py") else catalogs.unwrapped_js
    assert [p.what for p in checker(path)] == expected


@pytest.mark.parametrize("page", ["setup.html", "offline.html"])
def test_every_text_of_the_pages_is_in_the_catalog(page: str) -> None:
    html = (catalogs.SHELL / "static" / page).read_text(encoding="utf-8")
    assert '<script src="i18n.js"></script>' in html
    ids = {m.id for m in catalogs.read_catalog(catalogs.TEMPLATE)}
    texts = [text for _line, text in catalogs.page_texts(html)]
    assert texts and [t for t in texts if t not in ids] == []


def test_a_translation_with_other_placeholders_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(catalogs, "ROOT", tmp_path)
    template = catalogs.Catalog()
    template.add("Logged in as {login}.")
    po = tmp_path / "fr.po"
    translated = catalogs.Catalog(locale="fr")
    translated.add("Logged in as {login}.", "Connecté en tant que {utilisateur}.")
    catalogs.write_catalog(translated, po)
    assert [p.what for p in catalogs.incomplete(po, template)] == [
        "placeholders differ: 'Logged in as {login}.'"
    ]


def test_the_addon_catalogs_cover_its_terms() -> None:
    # fr.po and es.po translate every entry of the exported .pot, and the .pot has every
    # _() / _t() / field string of the code.
    assert addon_po.problems() == []
    assert addon_po.languages() == ["es", "fr"]


def test_an_addon_entry_left_untranslated_is_reported(tmp_path: Path, monkeypatch) -> None:
    pot = addon_po.TEMPLATE.read_text(encoding="utf-8")
    (tmp_path / "pos_restaurant_sync.pot").write_text(pot, encoding="utf-8")
    entries = addon_po.parse((addon_po.I18N / "fr.po").read_text(encoding="utf-8"))
    dropped = next(e for e in entries if e.msgid == "local agent unreachable")
    dropped.msgstr = ""
    (tmp_path / "fr.po").write_text(addon_po.write(entries), encoding="utf-8")
    monkeypatch.setattr(addon_po, "I18N", tmp_path)
    monkeypatch.setattr(addon_po, "TEMPLATE", tmp_path / "pos_restaurant_sync.pot")
    assert "fr.po: untranslated: 'local agent unreachable'" in addon_po.problems()


# ------------------------------------------------------------------ the language


@pytest.mark.parametrize(
    ("tag", "lang"),
    [("fr_FR", "fr"), ("fr_BE.UTF-8", "fr"), ("es-419", "es"), ("es_ES@euro", "es"),
     ("de_DE", "en"), ("C", "en"), ("", "en"), (None, "en")],
)  # fmt: skip
def test_language_tags_map_to_a_shipped_catalog(tag: str | None, lang: str) -> None:
    assert i18n.supported(tag) == lang


def test_linux_reads_gettext_variables_in_gettext_order() -> None:
    env = {"LANGUAGE": "es_ES:en", "LC_ALL": "", "LANG": "fr_FR.UTF-8"}
    assert i18n.system_language("linux", env) == "es_ES"
    assert i18n.system_language("linux", {"LANG": "fr_FR.UTF-8"}) == "fr_FR.UTF-8"
    assert i18n.system_language("linux", {"LC_ALL": "C", "LANG": "C.UTF-8"}) is None


def test_windows_reads_the_accounts_display_language() -> None:
    env = {"LANG": "de_DE"}  # ignored on Windows
    assert i18n.system_language("win32", env, windows_ui_language=lambda: "fr_FR") == "fr_FR"
    assert i18n.system_language("win32", env, windows_ui_language=lambda: None) is None


def test_the_odoo_users_language_wins_over_the_systems(monkeypatch) -> None:
    monkeypatch.setenv("LANGUAGE", "es_ES")
    assert i18n.startup_language("fr_FR") == "fr"
    assert i18n.gettext("Server") == "Serveur"
    assert i18n.startup_language("") == "es"
    assert i18n.gettext("Server") == "Servidor"


def test_doctor_lines_are_translated_and_its_json_is_not() -> None:
    i18n.use("fr_FR")
    result = checks.failed(i18n.N_("Disk"), "x", "y")
    assert result.lines()[0].split()[:2] == ["FAIL", "Disque"]
    assert result.as_json()["name"] == "Disk"


def test_plurals_follow_the_language() -> None:
    i18n.use("fr")
    one = "{n} change has not reached the Odoo server yet{detail}."
    many = "{n} changes have not reached the Odoo server yet{detail}."
    assert i18n.ngettext(one, many, 1).startswith("{n} modification n'a")
    assert i18n.ngettext(one, many, 3).startswith("{n} modifications n'ont")


def served_i18n_js() -> str:
    """i18n.js as the local server hands it to the pages."""
    local = LocalServer({})
    local.start()
    try:
        with urllib.request.urlopen(f"{local.origin}/i18n.js", timeout=5) as response:
            return response.read().decode()
    finally:
        local.stop()


def test_the_pages_get_the_catalog_of_the_apps_language() -> None:
    i18n.use("fr_FR")
    script = served_i18n_js()
    head = re.match(r"window\.possyncCatalog = (.*);\n", script)
    assert head is not None
    catalog = json.loads(head.group(1))
    assert catalog["lang"] == "fr"
    assert catalog["texts"]["Connect this terminal to Odoo"] == "Connecter ce terminal à Odoo"
    assert "<" not in head.group(1)  # no catalog text can close the script element


@pytest.mark.parametrize("secret", [PASSWORD, API_KEY])
def test_login_reads_the_odoo_users_language(secret: str) -> None:
    with running(Options(user_lang="es_ES")) as server:

        async def go() -> str:
            async with odoo_probe.OdooProbe(server.url) as probe:
                return (await probe.login("restaurant", "waiter", secret)).lang

        assert odoo_probe.run(go()) == "es_ES"


def test_the_users_language_is_kept_in_the_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings_mod.save(settings_mod.Settings(server_url="https://odoo.test", lang="fr_FR"))
    assert settings_mod.load().lang == "fr_FR"


def test_a_catalog_text_cannot_close_the_script_element(monkeypatch) -> None:
    # A hostile or broken translation reaches the pages as data, never as markup: the
    # catalog is JSON without "<", and i18n.js sets text nodes and attributes only.
    hostile = {"lang": "fr", "texts": {"Log in": "</script><script>alert(1)</script>"}}
    monkeypatch.setattr(i18n, "page_catalog", lambda: hostile)
    head = served_i18n_js().split("\n", 1)[0]
    assert "<" not in head
    assert json.loads(head.removeprefix("window.possyncCatalog = ").removesuffix(";")) == hostile
    assert "innerHTML" not in (catalogs.SHELL / "static" / "i18n.js").read_text(encoding="utf-8")


def test_a_bundle_reads_the_compiled_catalogs_without_babel(tmp_path: Path, monkeypatch) -> None:
    # installer/possync.spec compiles every .po into shell/locale of the bundle, which has
    # no Babel: shell.i18n must then read the .mo files alone.
    compiled = catalogs.compile_all(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in compiled) == [
        "es/LC_MESSAGES/possync.mo",
        "fr/LC_MESSAGES/possync.mo",
    ]
    monkeypatch.setattr(i18n.paths, "locale_dir", lambda: tmp_path)
    monkeypatch.setattr(i18n, "compile_po", lambda po: pytest.fail("compiled at run time"))
    assert i18n.translations("es").gettext("Settings") == "Ajustes"
