"""Attacks on enrolment from the tablet's side: a server whose certificate nothing vouches
for, a forged authority, a swapped answer, a replayed code, a password on the command
line, cleartext to the network. The server's side: addon/…/tests/test_enrolment.py."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from agent import server_tls
from devkit.standin_odoo import StandInServer, running
from shell import cli, enrolment
from shell import settings as settings_mod
from shell.odoo_probe import ProbeError
from tests.addon_lib import load

CODE = "ABCD-EFGH"


def tls_server(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def issued(server: StandInServer, ca_pem: str = "") -> StandInServer:
    server.standin.enrolment_codes[CODE] = "valid"
    server.standin.ca_pem = ca_pem
    return server


def refusal(line: str) -> ProbeError:
    with pytest.raises(ProbeError) as refused:
        enrolment.run(enrolment.parse(line))
    return refused.value


def line(server: StandInServer, ca: str = "") -> str:
    return load("enrolment_code").enrolment_string(server.url, "restaurant", CODE, ca)


def test_the_pinned_fingerprint_is_the_addons(home: Path) -> None:
    pem = trustme.CA().cert_pem.bytes().decode()
    addon = load("enrolment_code")
    assert addon.authority_sha256(pem) == server_tls.authority_sha256(pem)


def test_a_server_with_its_own_authority_is_trusted_through_the_pin(home: Path) -> None:
    ca = trustme.CA()
    pem = ca.cert_pem.bytes().decode()
    with running(ssl_context=tls_server(ca)) as server:
        enrolled = enrolment.run(enrolment.parse(line(issued(server, pem), ca=_sha(pem))))
    assert enrolled.config_id == 2 and enrolled.ca_pem == pem
    saved = enrolment.settings_for(enrolled, settings_mod.Settings())
    assert Path(saved.server_ca_file).read_text() == pem  # trusted for this server from now on


def test_an_unverifiable_server_without_a_pin_gets_no_code(home: Path) -> None:
    # No blind trust: the code is never sent to a server nothing vouches for.
    ca = trustme.CA()
    with running(ssl_context=tls_server(ca)) as server:
        refused = refusal(line(issued(server, ca.cert_pem.bytes().decode())))
        assert server.standin.enrolment_codes[CODE] == "valid"
    assert refused.code == "tls" and "not trusted" in refused.message
    assert refused.hint == enrolment.UNPINNED_HINT


def test_a_forged_authority_is_refused_before_the_code_leaves(home: Path) -> None:
    # A man in the middle with his own authority: the pin names the real one.
    real, forged = trustme.CA(), trustme.CA()
    with running(ssl_context=tls_server(forged)) as server:
        issued(server, forged.cert_pem.bytes().decode())
        refused = refusal(line(server, ca=_sha(real.cert_pem.bytes().decode())))
        assert server.standin.enrolment_codes[CODE] == "valid"
    assert refused.code == "enrol_ca"


def test_a_server_whose_chain_does_not_lead_to_the_pinned_authority_is_refused(
    home: Path,
) -> None:
    # The server hands out the pinned authority but presents a certificate of another.
    pinned, other = trustme.CA(), trustme.CA()
    pem = pinned.cert_pem.bytes().decode()
    with running(ssl_context=tls_server(other)) as server:
        refused = refusal(line(issued(server, pem), ca=_sha(pem)))
        assert server.standin.enrolment_codes[CODE] == "valid"
    assert refused.code == "tls"


def test_an_answer_with_another_authority_than_the_pinned_one_is_refused(home: Path) -> None:
    # The answer's authority is what the tablet keeps trusting: it must be the pinned one.
    pinned = trustme.CA().cert_pem.bytes().decode()
    request = enrolment.parse(CODE, "https://odoo.example.com", ca_sha256=_sha(pinned))
    swapped = {"database": "restaurant", "config_id": 2,
               "ca_pem": trustme.CA().cert_pem.bytes().decode()}  # fmt: skip
    with pytest.raises(ProbeError) as refused:
        enrolment._enrolled(request, swapped, pinned)
    assert refused.value.code == "enrol_ca"


def test_a_replayed_code_enrols_nothing(home: Path) -> None:
    with running() as server:
        first = enrolment.run(enrolment.parse(line(issued(server))))
        assert first.config_id == 2
        assert refusal(line(server)).code == "enrol_code_used"


def test_cleartext_to_the_network_is_refused_before_anything_is_sent(home: Path) -> None:
    refused = refusal("possync:enroll?url=http%3A%2F%2F192.0.2.1%3A8069&code=ABCD-EFGH")
    assert refused.code == "insecure_http"


def test_the_password_never_goes_on_the_command_line(home: Path) -> None:
    with pytest.raises(SystemExit):
        cli.main(["enroll", "https://odoo.example.com", CODE, "--login", "w", "--password", "x"])


def _sha(pem: str) -> str:
    return server_tls.authority_sha256(pem)
