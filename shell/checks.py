"""One check of `possync doctor`: its outcome, what it found, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from shell.i18n import _

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
# `possync doctor --json`: each outcome in the words of a monitoring system.
JSON_STATUS = {PASS: "ok", WARN: "warning", FAIL: "failed", SKIP: "skipped"}


@dataclass
class Result:
    name: str  # English (as in --json); shown in the app's language
    outcome: str  # PASS, WARN, FAIL or SKIP; only FAIL makes doctor exit non-zero
    message: str
    hint: str = ""

    def lines(self) -> list[str]:
        head = f"{self.outcome:<5} {_(self.name):<11} {self.message}"
        return [head, f"{'':17}→ {self.hint}"] if self.hint and self.outcome != PASS else [head]

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": JSON_STATUS[self.outcome],
            "message": self.message,
            "hint": self.hint,
        }


def passed(name: str, message: str) -> Result:
    return Result(name, PASS, message)


def warned(name: str, message: str, hint: str) -> Result:
    return Result(name, WARN, message, hint)


def failed(name: str, message: str, hint: str) -> Result:
    return Result(name, FAIL, message, hint)


def skipped(name: str, why: str, hint: str = "") -> Result:
    return Result(name, SKIP, why, hint)


def overall(results: list[Result]) -> str:
    """`failed` when any check failed, else `warning` when any warned, else `ok`."""
    outcomes = {result.outcome for result in results}
    return "failed" if FAIL in outcomes else "warning" if WARN in outcomes else "ok"
