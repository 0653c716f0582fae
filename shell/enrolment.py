"""Enrolment: set this tablet up from a one-time code a POS manager issued in Odoo.

The code comes typed (with the server's address) or scanned from the QR code, whose one
line a 2D scanner types into the code field:
``possync:enroll?url=<server>&db=<database>&code=XXXX-XXXX&ca=<sha256>``. The server
answers the database, the POS and, for a server with its own certificate authority, that
authority (``addon/…/models/pos_restaurant_sync_enrolment.py``). The login is typed once
afterwards; the device registers when the agent first logs in.

TLS, with no blind trust (agent/server_tls.py):
- without ``ca=``, the server's certificate must verify with the system's authorities;
- with ``ca=``, the authority's PEM is fetched first, kept only when its fingerprint is
  the pinned one, and the code then travels over a connection verified against it (the
  server's chain must lead to it, for the server's name); the PEM in the answer must have
  the same fingerprint.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from agent import server_tls
from shell import odoo_probe
from shell import settings as settings_mod
from shell.credentials import Credentials, KeyringUnavailable
from shell.i18n import N_, _
from shell.odoo_probe import OdooProbe, ProbeError
from shell.settings import ServerTls, Settings

PREFIX = "possync:enroll?"  # i18n: ignore (the QR code's scheme)
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_INPUT_CHARS = 2048
UNPINNED_HINT = N_(
    "This server's certificate is not publicly trusted and the code names no authority "
    "(ca=). In Odoo, set Settings > Point of Sale > Tablets' Server Certificate, then "
    "scan the QR code of a new code: it carries the certificate's fingerprint."
)


@dataclass(frozen=True)
class EnrolmentRequest:
    """What the tablet knows before it asks: typed, scanned or given on the command line."""

    server_url: str
    code: str
    database: str = ""
    ca_sha256: str = ""


@dataclass(frozen=True)
class Enrolled:
    """What the server answered for this tablet."""

    server_url: str
    database: str
    config_id: int
    config_name: str
    odoo_major: int
    ca_pem: str = ""


def parse(
    text: str, server_url: str = "", database: str = "", ca_sha256: str = ""
) -> EnrolmentRequest:
    """The request from a code field: the scanned line, or a code typed next to the
    server's address. Raises ProbeError ``enrol_input`` with what is missing."""
    text = (text or "").strip()
    if len(text) > MAX_INPUT_CHARS:
        raise _input_error(_("The code field holds too much text."))
    if text.lower().startswith(PREFIX):
        values = {k: v[-1] for k, v in parse_qs(text[len(PREFIX) :]).items()}
        server_url = values.get("url", "")
        database, ca_sha256 = values.get("db", ""), values.get("ca", "")
        text = values.get("code", "")
    ca_sha256 = ca_sha256.strip().lower().replace(":", "")
    if not text:
        raise _input_error(_("Type the enrolment code (or scan its QR code)."))
    if not server_url.strip():
        raise _input_error(_("Type the server's address next to the code."))
    if ca_sha256 and not SHA256_HEX.fullmatch(ca_sha256):
        raise _input_error(_("The certificate fingerprint (ca=) is not a SHA-256."))
    url = settings_mod.normalize_server_url(server_url)
    return EnrolmentRequest(url, text, database.strip(), ca_sha256)


async def enrol(request: EnrolmentRequest, allow_insecure_http: bool = False) -> Enrolled:
    """Trade the code for the set-up (see the module's TLS rules); ProbeError otherwise."""
    authority = ""
    if request.ca_sha256:
        authority = await _pinned_authority(request, allow_insecure_http)
    tls = ServerTls(allow_insecure_http=allow_insecure_http, ca_pem=authority)
    try:
        async with OdooProbe(request.server_url, tls=tls) as probe:
            if request.database:
                await probe.select_database(request.database)
            answer = await probe.enrol(request.code)
    except ProbeError as exc:
        if exc.code == "tls" and not request.ca_sha256:
            exc.hint = _(UNPINNED_HINT)
        raise
    return _enrolled(request, answer, authority)


async def _pinned_authority(request: EnrolmentRequest, allow_insecure_http: bool) -> str:
    """The authority PEM with the pinned fingerprint, fetched without trusting anything."""
    tls = ServerTls(allow_insecure_http=allow_insecure_http)
    async with _FetchOnlyProbe(request.server_url, tls=tls) as probe:
        if request.database:
            await probe.select_database(request.database)
        pem = await probe.authority(request.ca_sha256)
    if not pem or _fingerprint(pem) != request.ca_sha256:
        raise ProbeError(
            "enrol_ca",
            _("The server does not have the certificate authority the code names (ca=)."),
            _("Scan the QR code again, or check the certificate set in Odoo's settings."),
        )
    return pem


class _FetchOnlyProbe(OdooProbe):
    """A probe that checks no certificate: it only fetches the pinned authority."""

    def _tls_context(self) -> ssl.SSLContext:
        super()._tls_context()  # the cleartext rule still applies
        return server_tls.fetch_only_context()


def _enrolled(request: EnrolmentRequest, answer: dict[str, Any], authority: str) -> Enrolled:
    error = answer.get("error")
    if isinstance(error, dict):
        code = str(error.get("code"))
        hint = _HINTS.get(code)
        raise ProbeError(code, str(error.get("message")), _(hint) if hint else "")
    ca_pem = str(answer.get("ca_pem") or "")
    if request.ca_sha256 and _fingerprint(ca_pem) != request.ca_sha256:
        raise ProbeError(
            "enrol_ca",
            _("The server answered another certificate authority than the code names."),
            _("Ask the manager to check the certificate in Odoo's settings."),
        )
    try:
        return Enrolled(
            request.server_url,
            str(answer["database"]),
            int(answer["config_id"]),
            str(answer.get("config_name") or ""),
            int(answer.get("odoo_major") or 19),
            ca_pem if request.ca_sha256 else authority,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProbeError(
            "not_odoo",
            _("The server's enrolment answer is incomplete ({error}).").format(error=exc),
        ) from exc


def _fingerprint(pem: str) -> str:
    try:
        return server_tls.authority_sha256(pem)
    except ValueError:
        return ""


_HINTS = {
    "enrol_code_wrong": N_("Check the code (letters and digits, no 0, O, 1, I or L), or scan it."),
    "enrol_code_used": N_("Each code enrols one tablet: create a new one in Odoo."),
    "enrol_code_expired": N_(
        "Create a new code in Odoo (Point of Sale > Configuration > Tablet Enrolments)."
    ),
    "enrol_code_cancelled": N_("Create a new code in Odoo."),
    "enrol_locked": N_("Wait 15 minutes before trying again."),
}


def _input_error(message: str) -> ProbeError:
    return ProbeError(
        "enrol_input",
        message,
        _("Scan the QR code shown in Odoo, or type the server address and the code."),
    )


def settings_for(
    enrolled: Enrolled, current: Settings, allow_insecure_http: bool = False
) -> Settings:
    """The settings an enrolment gives (the login stays to be typed); the authority, if
    any, kept as the settings' CA file. Choices of this tablet (full screen, printing,
    where the password lives) are kept."""
    ca_file = settings_mod.keep_ca_pem(enrolled.ca_pem) if enrolled.ca_pem else ""
    same = (current.server_url, current.database) == (enrolled.server_url, enrolled.database)
    return replace(
        current,
        server_url=enrolled.server_url,
        database=enrolled.database,
        login=current.login if same else "",
        config_id=enrolled.config_id,
        config_name=enrolled.config_name,
        odoo_major=enrolled.odoo_major,
        pos_loaded_once=False,
        server_ca_file=ca_file,
        allow_insecure_http=allow_insecure_http,
    )


def run(request: EnrolmentRequest, allow_insecure_http: bool = False) -> Enrolled:
    return odoo_probe.run(enrol(request, allow_insecure_http))


# --- `possync enroll` --------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolCommand:
    """`possync enroll`'s arguments: ``target`` is the scanned line, or URL and CODE."""

    target: list[str]
    database: str = ""
    ca_sha256: str = ""
    login: str = ""
    password_file: str = ""
    secret_store: str = ""
    allow_insecure_http: bool = False


def command(args: EnrolCommand) -> tuple[int, list[str]]:
    """Enrol, save the settings, then (with a login) check and keep the password."""
    try:
        if args.secret_store and args.secret_store not in settings_mod.SECRET_STORES:
            choices = ", ".join(settings_mod.SECRET_STORES)
            raise _input_error(_("--secret-store is one of {choices}.").format(choices=choices))
        request = parse(*_code_and_url(args.target), args.database, args.ca_sha256)
        enrolled = run(request, args.allow_insecure_http)
    except ProbeError as exc:
        not_enrolled = _("Not enrolled: {reason}").format(reason=exc.message)
        return 1, [not_enrolled, *([exc.hint] if exc.hint else [])]
    new = settings_for(enrolled, settings_mod.load(), args.allow_insecure_http)
    if args.secret_store:
        new = replace(new, secret_store=args.secret_store)
    settings_mod.save(new)
    lines = [
        _("Enrolled for {pos} (database {database}) on {url}.").format(
            pos=enrolled.config_name, database=enrolled.database, url=enrolled.server_url
        )
    ]
    if not args.login:
        return 0, [*lines, _("Start possync and log in once: it asks only the login and password.")]
    try:
        password = read_password(args.password_file)
        new = replace(new, login=args.login)
        odoo_probe.run(check_login(new, password))
        Credentials().put(new, password)
    except (ProbeError, OSError, ValueError, KeyringUnavailable) as exc:
        message = exc.message if isinstance(exc, ProbeError) else str(exc)
        return 1, [
            *lines,
            _("The login was not saved: {reason}").format(reason=message),
            _("Start possync and log in there, or run possync enroll again with a new code."),
        ]
    settings_mod.save(new)
    logged_in = _("Logged in as {login}: start possync to open the POS.").format(login=args.login)
    return 0, [*lines, logged_in]


def _code_and_url(target: list[str]) -> tuple[str, str]:
    """``[LINE]`` or ``[URL, CODE]`` (as parse takes them: text, then server address)."""
    if len(target) == 1:
        return target[0], ""
    if len(target) == 2:
        return target[1], target[0]
    raise _input_error(
        _("possync enroll takes the scanned line, or the server's URL and the code.")
    )


def read_password(password_file: str) -> str:
    """From the file (first line), else from standard input: never from the command line,
    where other users of the computer could read it."""
    import sys

    if password_file:
        text = Path(password_file).read_text(encoding="utf-8")
    elif sys.stdin.isatty():
        import getpass

        text = getpass.getpass(_("Password: "))
    else:
        text = sys.stdin.readline()
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ValueError(_("no password given (standard input or --password-file)"))
    return password


async def check_login(settings: Settings, password: str) -> None:
    """The login works and may open the enrolled POS; ProbeError otherwise."""
    async with OdooProbe(settings.server_url, tls=settings.tls()) as probe:
        await probe.login(settings.database, settings.login, password)
        configs = await probe.pos_configs()
    if settings.config_id not in {config["id"] for config in configs}:
        raise ProbeError(
            "enrol_pos_denied",
            _("{login} may not open {pos}.").format(login=settings.login, pos=settings.config_name),
            _("Log in with a user of this POS (Point of Sale > Configuration > Settings)."),
        )
