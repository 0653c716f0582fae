"""``window.print()`` in the POS window: receipts and bills on paper.

With no IoT box or ePOS printer configured, Odoo 18 and 19 print a receipt by calling
``window.print()`` on the POS page itself, whose print CSS shows only the receipt
(point_of_sale's ``printer_service.printWeb``). A Qt WebEngine view ignores that call
unless the app answers ``printRequested``; this module does, with the print dialog or,
when the settings say so, straight to the system's default printer. A kiosk never shows
the dialog: its "print to file" opens a file dialog (Linux) or Explorer (Windows "Print to
PDF"), a way out of the kiosk to the tablet's files; it prints to the default printer or
not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("possync.printing")

# Given the window, returns the printer to print on, or None to print nothing.
PrinterChoice = Callable[[Any], Any]
NOTICE_MS = 15_000


def ask(parent: Any) -> Any:
    """The system's print dialog; None when the user cancels."""
    from qtpy.QtPrintSupport import QPrintDialog, QPrinter
    from qtpy.QtWidgets import QDialog

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    accepted = QPrintDialog(printer, parent).exec() == QDialog.DialogCode.Accepted
    return printer if accepted else None


def default_printer(_parent: Any) -> Any:
    """The system's default printer, without a dialog; None when none is set."""
    from qtpy.QtPrintSupport import QPrinter, QPrinterInfo

    info = QPrinterInfo.defaultPrinter()
    if info.isNull():
        log.warning("no default printer is set")
        return None
    return QPrinter(info, QPrinter.PrinterMode.HighResolution)


def show_notice(parent: Any, text: str) -> None:
    """A line in the window's status bar for a while (``parent`` is the Qt main window)."""
    parent.statusBar().showMessage(text, NOTICE_MS)


class PagePrinter:
    """Prints the page of ``browser`` (pywebview's Qt window) whenever the page asks.

    Qt emits ``printRequested`` on the GUI thread and runs a plain callable's slot there,
    where the dialog must run. One job at a time: Qt refuses a second print
    while one is running, so a request meanwhile is dropped with a log line.
    """

    def __init__(self, browser: Any, choose: PrinterChoice) -> None:
        self._browser = browser
        self._choose = choose
        self._printer: Any = None  # kept alive until Qt has finished with it
        browser.webview.page().printRequested.connect(self._requested)
        browser.webview.printFinished.connect(self._finished)

    def _requested(self) -> None:
        if self._printer is not None:
            log.warning("a print is still running; this one is dropped")
            return
        printer = self._choose(self._browser)
        if printer is None:
            return
        self._printer = printer
        self._browser.webview.print(printer)

    def _finished(self, ok: bool) -> None:
        log.log(logging.INFO if ok else logging.ERROR, "printing %s", "done" if ok else "failed")
        self._printer = None
