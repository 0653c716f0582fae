"""The app's language: gettext catalogs for its messages, pages and `possync doctor`.

Catalogs are ``shell/locale/<lang>/LC_MESSAGES/possync.po`` (msgid = the English text).
A bundle carries them compiled (``.mo``, made by installer/possync.spec through
``tools.i18n``); a source checkout compiles the ``.po`` in memory with Babel when it is
installed (the test and build extras), and stays in English without it.

The language is the Odoo user's (``Settings.lang``, read at login) or else the system's
(``system_language``); `use` switches the whole app at once: Python messages through
`gettext`, the pages through the catalog the local server hands them (`page_catalog`).
"""

from __future__ import annotations

import gettext as gettext_mod
import io
import locale
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from shell import paths

DOMAIN = "possync"
SOURCE_LANGUAGE = "en"
# The languages with a shipped catalog, besides English.
LANGUAGES = ("fr", "es")

_current: gettext_mod.NullTranslations = gettext_mod.NullTranslations()
_language = SOURCE_LANGUAGE


def gettext(message: str) -> str:
    """``message`` (English) in the app's language."""
    return _current.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _current.ngettext(singular, plural, count)


def gettext_noop(message: str) -> str:
    """Marks a text for the catalog where it is defined; `gettext` translates it where
    it is shown (texts in module-level tables, check names kept in English for JSON)."""
    return message


_ = gettext
N_ = gettext_noop


def language() -> str:
    """The app's language now: ``en``, ``fr`` or ``es``."""
    return _language


def supported(tag: str | None) -> str:
    """A language tag of Odoo or of a system (``fr_FR``, ``es-419``, ``fr_BE.UTF-8``,
    ``C``) to one the app has a catalog for, else English."""
    base = (tag or "").replace("-", "_").split(".")[0].split("@")[0].split("_")[0].lower()
    return base if base in LANGUAGES else SOURCE_LANGUAGE


def use(tag: str | None) -> str:
    """Switch the app to ``tag`` (or English when there is no catalog for it); the
    language now in use."""
    global _current, _language
    _language = supported(tag)
    _current = translations(_language)
    return _language


def translations(lang: str) -> gettext_mod.NullTranslations:
    """The catalog of ``lang``: compiled, or compiled now from the ``.po``, or none."""
    if lang == SOURCE_LANGUAGE:
        return gettext_mod.NullTranslations()
    folder = paths.locale_dir() / lang / "LC_MESSAGES"
    mo = folder / f"{DOMAIN}.mo"
    if mo.is_file():
        with mo.open("rb") as handle:
            return gettext_mod.GNUTranslations(handle)
    po = folder / f"{DOMAIN}.po"
    if po.is_file():
        compiled = compile_po(po)
        if compiled is not None:
            return gettext_mod.GNUTranslations(io.BytesIO(compiled))
    return gettext_mod.NullTranslations()


def compile_po(po: Path) -> bytes | None:
    """The ``.mo`` bytes of a ``.po`` file, or None without Babel."""
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:
        return None
    with po.open("rb") as handle:
        catalog = read_po(handle)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def page_catalog() -> dict[str, object]:
    """What the pages' i18n.js needs: the language and its English → translated texts."""
    catalog = getattr(_current, "_catalog", {})
    texts = {k: v for k, v in catalog.items() if isinstance(k, str) and k and v}
    return {"lang": _language, "texts": texts}


# ------------------------------------------------------------------ the system's language


def system_language(
    platform: str = sys.platform,
    environ: Mapping[str, str] = os.environ,
    windows_ui_language: Callable[[], str | None] | None = None,
) -> str | None:
    """The user's language as the system gives it (``fr_FR``), or None.

    Windows: the display language of the user's account (what Windows' own menus are
    in). Elsewhere: gettext's variables in gettext's order (LANGUAGE, LC_ALL,
    LC_MESSAGES, LANG).
    """
    if platform == "win32":
        return (windows_ui_language or _windows_ui_language)()
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        first = value.split(":")[0]
        if first and first not in ("C", "POSIX") and not first.startswith("C."):
            return first
    return None


def _windows_ui_language() -> str | None:
    import ctypes

    lcid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    return locale.windows_locale.get(lcid)


def startup_language(user_lang: str) -> str:
    """The language the app starts in: the Odoo user's when known, else the system's."""
    return use(user_lang or system_language())
