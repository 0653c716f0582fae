"""The POS speaks its user's language: French installed on the database, the addon's fr.po
loaded with it, the user switched to French; possync's indicator and its causes follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.odoo import OdooInstance
from devkit.pos_page import PosPage
from tests.realodoo.test_pos_scenarios import (  # noqa: F401 - fixtures
    FADED_IN,
    Tables,
    free_tables,
    synced_odoo,
    wait_until,
)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FRENCH = "fr_FR"


def install_language(odoo: OdooInstance, code: str) -> None:
    """What Settings → Languages → Add does: ``base.language.install``, which loads every
    installed module's ``i18n/<lang>.po`` (pos_restaurant_sync's included)."""
    found = odoo.jsonrpc(
        "res.lang", "search_read", [[("code", "=", code), ("active", "in", [True, False])]],
        {"fields": ["active"]},
    )
    wizard = odoo.jsonrpc(
        "base.language.install", "create", [{"lang_ids": [(6, 0, [found[0]["id"]])]}]
    )
    odoo.jsonrpc("base.language.install", "lang_install", [[wizard]])


@pytest.fixture
def french_user(synced_odoo: OdooInstance) -> Iterator[OdooInstance]:  # noqa: F811
    """The POS user (the harness's admin) working in French, for this test only."""
    install_language(synced_odoo, FRENCH)
    [user] = synced_odoo.jsonrpc(
        "res.users", "search_read", [[("login", "=", synced_odoo.login)]], {"fields": ["lang"]}
    )
    synced_odoo.jsonrpc("res.users", "write", [[user["id"]], {"lang": FRENCH}])
    yield synced_odoo
    synced_odoo.jsonrpc("res.users", "write", [[user["id"]], {"lang": user["lang"]}])


def test_the_indicator_and_its_causes_are_french_for_a_french_user(
    browser, french_user: OdooInstance, free_tables: Tables  # noqa: F811
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    try:
        terminal = PosPage(context.new_page(), french_user.tree.major)
        terminal.stand_in_kitchen_printer()
        terminal.open(french_user)
        button = terminal.indicator
        terminal.open_table(free_tables.take())
        terminal.add_product("Coca-Cola")
        wait_until(lambda: button.get_attribute("data-state") == "synced", what="all synced")
        title = button.get_attribute("title")
        assert "Toutes les modifications sont synchronisées" in title, title
        assert "Dernière synchronisation :" in title, title
        with terminal.server_unreachable():
            terminal.add_product("Fanta")
            wait_until(lambda: button.get_attribute("data-state") == "error", what="red")
            button.click()
            details = terminal.sync_details
            wait_until(
                lambda: "Non synchronisé : serveur injoignable" in details.inner_text(),
                what="the cause in French",
            )
            wait_until(lambda: details.evaluate(FADED_IN), what="the details fully shown")
            shot = SCREENSHOTS / f"pos-fr-odoo{terminal.major}.png"
            terminal.page.screenshot(path=str(shot))
            print(f"the POS in French: {shot}")
        wait_until(lambda: button.get_attribute("data-state") == "synced", what="synced again")
    finally:
        context.close()
