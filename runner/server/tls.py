"""Certificates for `wsrun serve --tls`: a throwaway CA, a server certificate and a client one.

Made with `trustme` at start-up, so that `wss://` scenarios (including `tls.ca`, `tls.cert` and
`tls.key`) can be tried without any certificate of one's own. Nothing here is for production.
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["TLS_FILES", "make_server_context"]

#: The files written into the TLS folder: what a client needs to trust and to be trusted.
TLS_FILES = ("ca.pem", "client.pem", "client.key")


def make_server_context(host: str, folder: Path) -> ssl.SSLContext:
    """A server TLS context for `host` (and localhost, 127.0.0.1, ::1), signed by a new CA.

    Writes the CA certificate and a client certificate and key, signed by the same CA, into
    `folder`. Client certificates are optional; one signed by that CA is verified.
    """
    import trustme  # only `wsrun serve --tls` needs it

    ca = trustme.CA(organization_name="wsrun test server")
    names = dict.fromkeys([host, "localhost", "127.0.0.1", "::1"])
    server_cert = ca.issue_cert(*names)
    client_cert = ca.issue_cert("wsrun-client@example.org", common_name="wsrun-client")
    folder.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client_cert.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    client_cert.private_key_pem.write_to_path(str(folder / "client.key"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
