"""The `possync` command: the app, `status`, `doctor`, `enroll`, `--self-test`, `--version`.

Each command calls one module; nothing here decides anything. Heavy imports (Qt, aiohttp)
happen inside the commands so `possync status` and the agent re-entry start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from agent.version import describe as describe_version
from shell.i18n import _

AGENT_FLAG = "--agent"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="possync",
        # No abbreviations: `--password X` must not pass for `--password-file X`.
        allow_abbrev=False,
        description=_("Live, loss-free sync for Odoo POS Restaurant: the terminal app."),
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "status", "doctor", "enroll"],
        help=_(
            "run the app (default); status: the local agent's status; "
            "doctor: check server, addon, websocket, keyring, disk, clock and the LAN "
            "(exit code 0 when nothing failed); enroll: set this tablet up from a code "
            "issued in Odoo"
        ),
    )
    parser.add_argument(
        "enrolment",
        nargs="*",
        metavar="ENROLMENT",
        help=_("enroll: the line the QR code holds, or the server's URL and the code"),
    )
    enroll = parser.add_argument_group("enroll")
    enroll.add_argument("--db", default="", help=_("the database (servers with several)"))
    enroll.add_argument(
        "--ca",
        default="",
        help=_("SHA-256 of the server's certificate authority (ca= of the QR)"),
    )
    enroll.add_argument(
        "--login",
        default="",
        help=_("log in once now; the password from stdin or --password-file"),
    )
    enroll.add_argument(
        "--password-file", default="", help=_("a file whose first line is the password")
    )
    enroll.add_argument(
        "--secret-store", help=_("where the password is kept: keyring (default), file or ask")
    )
    enroll.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help=_("accept a plain http:// server on another computer (test servers only)"),
    )
    parser.add_argument("--setup", action="store_true", help=_("open the settings screen first"))
    parser.add_argument("--fullscreen", action="store_true", help=_("full screen this time"))
    parser.add_argument(
        "--kiosk",
        action="store_true",
        help=_(
            "run as a kiosk this time (how the kiosk session starts it): full screen, no "
            "window controls, only the POS, Settings and Quit behind the manager PIN"
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help=_("status, doctor: print JSON (doctor: for monitoring)")
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help=_("start the agent and an offscreen window, check injection and a round trip"),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log debug details"))
    parser.add_argument("--version", action="version", version=describe_version("possync"))
    return parser


def run_agent(argv: Sequence[str]) -> int:
    """`possync --agent ARGS`: the agent inside this executable (how a bundle starts it)."""
    from agent import cli as agent_cli

    return int(agent_cli.main(list(argv)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [AGENT_FLAG]:
        return run_agent(argv[1:])
    _use_language()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.enrolment and args.command != "enroll":
        parser.error(_("{command} takes no ENROLMENT").format(command=args.command))
    _setup_logging(args.verbose, to_file=args.command == "run" and not args.self_test)
    if args.self_test:
        from shell import selftest

        return _print(*selftest.run())
    if args.command == "status":
        return _status(args.json)
    if args.command == "enroll":
        return _enroll(args)
    if args.command == "doctor":
        from shell import doctor, settings

        return _print(*doctor.command(settings.load(), as_json=args.json))
    return _run_app(args.setup, args.fullscreen, args.kiosk)


def _use_language() -> None:
    """The Odoo user's language when a login saved it, else the system's (shell/i18n.py)."""
    from shell import i18n, settings

    i18n.startup_language(settings.load().lang)


def _setup_logging(verbose: bool, to_file: bool) -> None:
    handlers: list[logging.Handler] = []
    # A windowed app on Windows has no stderr at all.
    if sys.stderr is not None:
        handlers.append(logging.StreamHandler())
    if to_file:
        from shell import logs, paths

        handlers.append(logs.rotating_file(paths.log_dir() / "possync.log"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
    )


def _status(raw: bool) -> int:
    from shell import status

    if raw:
        runtime = status.read_runtime()
        answer = runtime and status.fetch_status(int(runtime["page_port"]), str(runtime["token"]))
        print(json.dumps(answer, indent=2) if answer else "null")
        return 0 if answer else 1
    return _print(*status.command())


def _enroll(args: argparse.Namespace) -> int:
    from shell import enrolment

    request = enrolment.EnrolCommand(
        args.enrolment,
        args.db,
        args.ca,
        args.login,
        args.password_file,
        args.secret_store or "",
        args.allow_insecure_http,
    )
    return _print(*enrolment.command(request))


def _run_app(open_setup: bool, fullscreen: bool, kiosk: bool) -> int:
    from dataclasses import replace

    from shell import settings
    from shell.window import prepare_qt_env

    prepare_qt_env()
    from shell.app import App

    current = settings.load()
    if fullscreen:
        current = replace(current, fullscreen=True)
    return App(current, open_setup=open_setup, kiosk_mode=kiosk).run()


def _print(code: int, lines: list[str]) -> int:
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
