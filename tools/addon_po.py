"""The addon's translations: ``addon/pos_restaurant_sync/i18n/<lang>.po`` against its ``.pot``.

Odoo writes its own ``.po`` dialect (``#: model:ir.model.fields,...`` references that say
which record a term belongs to), so these files are read and written as text, entry by
entry, keeping every comment of the ``.pot`` as Odoo exported it:

    python -m tools.addon_po update   the .pot's entries into every <lang>.po, keeping
                                      the translations already there (like msgmerge)
    python -m tools.addon_po check    fails on a .pot entry a <lang>.po misses, leaves
                                      empty, or translates with other placeholders

The ``.pot`` comes from a real Odoo (``odoo-bin --i18n-export``; see docs/translating.md).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addon" / "pos_restaurant_sync"
I18N = ADDON / "i18n"
TEMPLATE = I18N / "pos_restaurant_sync.pot"
# Python's %-style and Odoo's JS _t placeholders, and markup the translation must keep.
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%d|<[^>]+>")
LANGUAGE_NAMES = {"fr": "French", "es": "Spanish"}


@dataclass
class Entry:
    comments: list[str]
    msgid: str
    msgstr: str

    def text(self) -> str:
        fields = [_field("msgid", self.msgid), _field("msgstr", self.msgstr)]
        return "\n".join([*self.comments, *fields])


def _unquote(line: str) -> str:
    body = line[line.index('"') + 1 : line.rindex('"')]
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), body)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace(
        "\t", "\\t"
    ) + '"'


def _field(name: str, value: str) -> str:
    if "\n" not in value.rstrip("\n"):
        return f"{name} {_quote(value)}"
    parts = value.splitlines(keepends=True)
    return "\n".join([f'{name} ""', *(_quote(p) for p in parts)])


def parse(text: str) -> list[Entry]:
    """The entries of a .po/.pot, the header (msgid "") first."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        comments, fields, current = [], {"msgid": "", "msgstr": ""}, ""
        for line in block.splitlines():
            if line.startswith("#"):
                comments.append(line)
            elif line.startswith(("msgid ", "msgstr ")):
                current = line.split(" ", 1)[0]
                fields[current] = _unquote(line)
            elif line.startswith('"') and current:
                fields[current] += _unquote(line)
        entries.append(Entry(comments, fields["msgid"], fields["msgstr"]))
    return entries


def write(entries: list[Entry]) -> str:
    return "\n\n".join(entry.text() for entry in entries) + "\n"


def po_path(lang: str) -> Path:
    return I18N / f"{lang}.po"


def languages() -> list[str]:
    return sorted(p.stem for p in I18N.glob("*.po"))


def merged(template: list[Entry], lang: str, existing: list[Entry]) -> list[Entry]:
    """The template's entries with this language's translations (and header)."""
    known = {e.msgid: e.msgstr for e in existing if e.msgid}
    team = f"Language-Team: {LANGUAGE_NAMES.get(lang, lang)}\n"
    header = re.sub(r"Language-Team: [^\n]*\n", team, template[0].msgstr)
    if "Language:" not in header:
        header = header.replace("MIME-Version:", f"Language: {lang}\nMIME-Version:")
    head = Entry(template[0].comments, "", header)
    return [head] + [Entry(e.comments, e.msgid, known.get(e.msgid, "")) for e in template[1:]]


def update() -> None:
    template = parse(TEMPLATE.read_text(encoding="utf-8"))
    for lang in languages():
        existing = parse(po_path(lang).read_text(encoding="utf-8"))
        po_path(lang).write_text(write(merged(template, lang, existing)), encoding="utf-8")


def code_terms() -> set[str]:
    """The terms the addon's code marks for translation, found without Odoo: ``_("…")``
    or ``self.env._("…")`` and the ``string``/``help`` of fields in Python, ``_t("…")`` in
    the POS scripts."""
    terms = set()
    for path in ADDON.rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", "") or getattr(node.func, "attr", "")
            if called == "_" and node.args:
                terms.add(node.args[0])
            terms.update(k.value for k in node.keywords if k.arg in ("string", "help"))
    found = {t.value for t in terms if isinstance(t, ast.Constant) and isinstance(t.value, str)}
    for path in (ADDON / "static" / "src").rglob("*.js"):
        found.update(re.findall(r'\b_t\(\s*"((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8")))
    return found


def problems() -> list[str]:
    template = parse(TEMPLATE.read_text(encoding="utf-8"))
    exported = {e.msgid for e in template}
    found = [f"not in the .pot (export it again): {t!r}" for t in code_terms() - exported]
    for lang in languages():
        translated = {e.msgid: e for e in parse(po_path(lang).read_text(encoding="utf-8"))}
        for entry in template[1:]:
            got = translated.get(entry.msgid)
            if got is None or not got.msgstr.strip():
                found.append(f"{lang}.po: untranslated: {entry.msgid!r}")
            elif _placeholders(got.msgstr) != _placeholders(entry.msgid):
                found.append(f"{lang}.po: placeholders differ: {entry.msgid!r}")
    return found


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.addon_po")
    parser.add_argument("command", choices=["update", "check"])
    args = parser.parse_args(argv)
    if args.command == "update":
        update()
        return 0
    found = problems()
    print("\n".join(found))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
