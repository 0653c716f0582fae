"""TLS to the Odoo server, one rule for the app, the agent and the app's web view.

- **No cleartext off this machine.** An ``http://`` server address is refused unless its
  host is loopback (127.0.0.0/8, ::1, ``localhost``) or the insecure setting
  (``allow_insecure_http``) is on: over http the password, the session cookie and every
  order cross the network readable by anyone on it.
- **A server with its own certificate authority** (a self-signed certificate, a company
  CA) is trusted through one PEM file chosen at setup (``server_ca_file``): the CA
  certificate(s), or the server's self-signed certificate itself. It is trusted for
  that server only, next to the system's authorities: Python's TLS context loads it
  (`client_context`), and the web view accepts a certificate error only when the chain
  the server presented verifies against that file for the server's host name
  (`chain_matches`, through ``cryptography``'s X.509 path validation).
- **Enrolment pins the authority by its fingerprint** (`authority_sha256`): a tablet
  enrolled with a code whose QR code carries ``ca=`` fetches the authority's PEM over a
  connection that checks nothing (`fetch_only_context`), keeps it only when its
  fingerprint is the pinned one, and then sends the code over a connection verified
  against it (shell/enrolment.py). Without ``ca=``, only the system's authorities count.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

INSECURE_HTTP = (
    "{url} is plain http:// to another computer: the password, the session and every order "
    "would cross the network unencrypted. Use the server's https:// address (with its "
    "certificate file when it has its own authority), or switch on the insecure setting "
    "(allow_insecure_http) knowingly."
)


class InsecureServer(ValueError):
    """The server address would send secrets in clear; the message says what to do."""


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and localhost: traffic that never leaves this machine."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_cleartext_to_network(url: str) -> bool:
    """Would requests to ``url`` cross the network unencrypted?"""
    parts = urlsplit(url)
    return parts.scheme in ("http", "ws") and not is_loopback_host(parts.hostname)


def check_server_url(url: str, allow_insecure_http: bool) -> None:
    """Raise InsecureServer for a non-loopback ``http://`` address without the setting."""
    if is_cleartext_to_network(url) and not allow_insecure_http:
        raise InsecureServer(INSECURE_HTTP.format(url=url))


def load_ca_file(path: str | Path) -> list[x509.Certificate]:
    """The certificates of a PEM file; ValueError when it holds none."""
    try:
        certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read the certificate file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValueError(f"{path} is not a PEM certificate file: {exc}") from exc
    return certs


def client_context(ca_file: str | Path | None, ca_pem: str = "") -> ssl.SSLContext:
    """Python's TLS context for the server: the system's authorities plus ``ca_file``
    (or the PEM text ``ca_pem``, not yet saved to a file)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=str(ca_file))
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


def fetch_only_context() -> ssl.SSLContext:
    """A context that verifies nothing: only for fetching a public certificate whose
    fingerprint is checked against a pin before anything trusts it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def authority_sha256(pem: str) -> str:
    """The fingerprint enrolment pins: SHA-256 over the DER of each certificate of the PEM,
    in order (for one certificate, the fingerprint browsers show). ValueError: no PEM."""
    digest = hashlib.sha256()
    for certificate in x509.load_pem_x509_certificates(pem.encode("ascii", "replace")):
        digest.update(certificate.public_bytes(Encoding.DER))
    return digest.hexdigest()


# Path validation, signatures, validity dates and the host name are all checked; the
# extension rules are relaxed from the public-web (CA/Browser Forum) profile because
# restaurant servers' own authorities (openssl one-liners, company CAs) rarely follow it.
_CA_POLICY = ExtensionPolicy.permit_all().require_present(
    x509.BasicConstraints, Criticality.AGNOSTIC, None
)
_LEAF_POLICY = ExtensionPolicy.permit_all().require_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
)


def chain_matches(chain_der: list[bytes], host: str, trusted: list[x509.Certificate]) -> bool:
    """Does the chain a server presented (leaf first, DER) verify against ``trusted``
    for ``host``, now?"""
    if not chain_der or not trusted or not host:
        return False
    try:
        leaf, *intermediates = (x509.load_der_x509_certificate(der) for der in chain_der)
        verifier = (
            PolicyBuilder()
            .store(Store(trusted))
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY)
            .build_server_verifier(_subject(host))
        )
        verifier.verify(leaf, intermediates)
    except (ValueError, VerificationError):
        return False
    return True


def _subject(host: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host)
