"""The app's translation catalogs, in one command (docs/translating.md).

    python -m tools.i18n extract   shell/ → shell/locale/possync.pot
    python -m tools.i18n update    extract, then merge the .pot into every <lang>/possync.po
    python -m tools.i18n check     fails on a user-facing text outside the catalog, a stale
                                   .pot, or a language that misses or mistypes an entry
    python -m tools.i18n compile   OUT  every .po → OUT/<lang>/LC_MESSAGES/possync.mo

The texts come from Python (``_()``, ``N_()``, ``ngettext()``), from the pages' scripts
(``t()``) and from the pages' HTML (text nodes, ``placeholder`` and ``title``: the
pages are written in English and shell/static/i18n.js looks their texts up as they are).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

DESCRIPTION = "The app's translation catalogs: extract, update, check, compile."
ROOT = Path(__file__).resolve().parent.parent
SHELL = ROOT / "shell"
LOCALE = SHELL / "locale"
DOMAIN = "possync"
TEMPLATE = LOCALE / f"{DOMAIN}.pot"
# _(), N_() and ngettext() in Python; t() in the pages' scripts.
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "t": None}
METHOD_MAP = [
    ("static/selftest.*", "ignore"),
    ("static/**.html", "tools.i18n:extract_html"),
    ("static/**.js", "javascript"),
    ("**.py", "python"),
]
# A text a person reads: two words, or one word and a sentence's end.
PROSE = re.compile(r"[A-Za-z]{2,}[ \u00a0][A-Za-z(“'\"]|[A-Za-z]{3,}[.…:!?]$")
PLACEHOLDER = re.compile(r"\{\w*(?:![rsa])?(?::[^}]*)?\}|%[sd]")
WRAPPERS = {"_", "N_", "ngettext", "gettext", "t"}
# `possync doctor`'s checks (shell/checks.py): their name is shown translated, kept in
# English in --json.
CHECK_MAKERS = {"passed", "warned", "failed", "skipped"}
# Modules whose texts no user reads in the app: what they say goes to the log or to a
# developer's terminal.
NOT_USER_FACING = {
    "shell/desktop_entry.py": "what it did goes to the log",
    "shell/selftest.py": "`possync --self-test`, a developer's and CI's check",
    "shell/static/selftest.js": "the page of `possync --self-test`",
    "shell/i18n.py": "the translator itself",
}
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
IGNORE_MARK = "i18n: ignore"


# ------------------------------------------------------------------------------ the pages


class _PageTexts(HTMLParser):
    """Text nodes (whitespace collapsed, as i18n.js reads them) and translated attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title") and value:
                self._add(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._add(data)

    def _add(self, text: str) -> None:
        text = " ".join(text.split())
        if re.search(r"[A-Za-z]", text):
            self.found.append((self.getpos()[0], text))


def page_texts(html: str) -> list[tuple[int, str]]:
    """The (line, text) pairs of a page that i18n.js translates."""
    parser = _PageTexts()
    parser.feed(html)
    parser.close()
    return parser.found


def extract_html(
    fileobj: io.BufferedReader, keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extractor interface for the pages (METHOD_MAP)."""
    for line, text in page_texts(fileobj.read().decode("utf-8")):
        yield line, "", text, []


# ------------------------------------------------------------------------------ catalogs


def extract() -> Catalog:
    catalog = Catalog(project="possync", domain=DOMAIN, fuzzy=False)
    found = extract_from_dir(
        SHELL, METHOD_MAP, keywords=KEYWORDS, strip_comment_tags=True
    )
    for filename, lineno, message, comments, context in found:
        path = f"shell/{filename}"
        catalog.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return catalog


def write_catalog(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_output=True, omit_header=False)
    path.write_bytes(out.getvalue())


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def languages() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def update() -> None:
    template = extract()
    write_catalog(template, TEMPLATE)
    for lang in languages():
        catalog = read_catalog(po_path(lang), lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        write_catalog(catalog, po_path(lang))


def compile_all(out: Path) -> list[Path]:
    written = []
    for lang in languages():
        mo = out / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as handle:
            write_mo(handle, read_catalog(po_path(lang), lang))
        written.append(mo)
    return written


# ------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}


def stale_template() -> list[Problem]:
    """The .pot must list exactly what the code says (run `update` after a change)."""
    fresh, kept = _ids(extract()), _ids(read_catalog(TEMPLATE))
    where = str(TEMPLATE.relative_to(ROOT))
    return [Problem(where, f"not in the .pot: {m!r}") for m in fresh - kept] + [
        Problem(where, f"no longer in the code: {m!r}") for m in kept - fresh
    ]


def incomplete(po: Path, template: Catalog) -> list[Problem]:
    """Entries of the .pot this .po misses, leaves empty or fuzzy, or translates with
    other placeholders than the English."""
    catalog = read_catalog(po)
    where = str(po.relative_to(ROOT))
    problems = []
    for message in template:
        if not message.id:
            continue
        got = catalog.get(message.id)
        strings = _strings(got.string) if got else []
        if not got or not all(strings) or got.fuzzy:
            problems.append(Problem(where, f"untranslated: {message.id!r}"))
            continue
        english = _placeholders(_strings(message.id)[0])
        for text in strings:
            if _placeholders(text) != english:
                problems.append(Problem(where, f"placeholders differ: {message.id!r}"))
    return problems


def _strings(value: str | tuple | list) -> list[str]:
    return list(value) if isinstance(value, tuple | list) else [value]


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def unwrapped_python(path: Path) -> list[Problem]:
    """Prose literals in a module that no ``_()``/``N_()`` wraps (docstrings, log
    calls, assertions and lines marked ``# i18n: ignore`` are not shown to users)."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    exempt: set[int] = set()
    problems = []
    for node in ast.walk(tree):
        callee = _callee(node) if isinstance(node, ast.Call) else ""
        if callee in WRAPPERS | LOG_CALLS or isinstance(node, ast.Assert):
            exempt.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            exempt.add(id(node.value))
        elif isinstance(node, ast.JoinedStr):  # checked as a whole
            exempt.update(id(v) for v in node.values)
        if callee in CHECK_MAKERS and node.args and isinstance(node.args[0], ast.Constant):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            problems.append(Problem(where, f"check name not in N_(): {node.args[0].value!r}"))
    for node in ast.walk(tree):
        if id(node) in exempt or not isinstance(node, ast.Constant | ast.JoinedStr):
            continue
        text = _literal_text(node)
        if text is None or not PROSE.search(text):
            continue
        if any(IGNORE_MARK in lines[n - 1] for n in range(node.lineno, (node.end_lineno or 0) + 1)):
            continue
        problems.append(Problem(f"{path.relative_to(ROOT)}:{node.lineno}", f"not in _(): {text!r}"))
    return problems


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    parts = [v.value for v in node.values if isinstance(v, ast.Constant)]  # type: ignore[attr-defined]
    return " {} ".join(str(p) for p in parts)


JS_TOKEN = re.compile(
    r"""//[^\n]*|/\*.*?\*/|(?P<q>["'])(?P<text>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)"""
    r"""|(?P<call>\bt\s*)?(?P<open>\()|(?P<close>\))""",
    re.DOTALL,
)


def unwrapped_js(path: Path) -> list[Problem]:
    """Prose string literals of a page script outside any ``t(...)`` (comments and
    lines marked ``// i18n: ignore`` aside)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    calls: list[bool] = []  # one per open parenthesis: is it t(?
    problems = []
    for match in JS_TOKEN.finditer(source):
        if match["open"]:
            calls.append(bool(match["call"]))
        elif match["close"]:
            calls = calls[:-1]
        elif match["q"] and not any(calls):
            number = source.count("\n", 0, match.start()) + 1
            text = re.sub(r"<[^>]*>", " ", match["text"]).strip()
            if PROSE.search(text) and IGNORE_MARK not in lines[number - 1]:
                where = f"{path.relative_to(ROOT)}:{number}"
                problems.append(Problem(where, f"not in t(): {match['text']!r}"))
    return problems


def check() -> list[Problem]:
    problems = []
    for path in sorted(SHELL.rglob("*.py")):
        if str(path.relative_to(ROOT)) not in NOT_USER_FACING:
            problems += unwrapped_python(path)
    for path in sorted((SHELL / "static").glob("*.js")):
        if str(path.relative_to(ROOT)) not in NOT_USER_FACING:
            problems += unwrapped_js(path)
    problems += stale_template()
    template = read_catalog(TEMPLATE)
    for lang in languages():
        problems += incomplete(po_path(lang), template)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=DESCRIPTION)
    parser.add_argument("command", choices=["extract", "update", "check", "compile"])
    parser.add_argument("out", nargs="?", type=Path, help="compile: the folder for the .mo files")
    args = parser.parse_args(argv)
    if args.command == "extract":
        write_catalog(extract(), TEMPLATE)
    elif args.command == "update":
        update()
    elif args.command == "compile":
        _print(str(p) for p in compile_all(args.out or LOCALE))
    else:
        problems = check()
        _print(str(p) for p in problems)
        return 1 if problems else 0
    return 0


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
