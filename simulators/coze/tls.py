"""A throwaway certificate authority for serving the simulator over TLS on loopback.

`cozepy`'s websocket client refuses any base URL that is not `https://` (it derives `wss://` from
it), so websocket chat can only be exercised over TLS. The CA lives for one run in a temporary
folder; a client trusts it by pointing `SSL_CERT_FILE` at `ca_file` (or loading it into its SSL
context) and nothing on the machine's trust store changes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LocalTls:
    ca_file: Path  # PEM of the authority a client must trust
    cert_file: Path  # the server's chain, PEM
    key_file: Path  # the server's private key, PEM


@contextmanager
def local_tls() -> Iterator[LocalTls]:
    # Imported here: trustme brings `cryptography` (about 45 ms), which only a TLS server needs, and building
    # the simulator to serve it in process (the pytest plugin's in-process mode) never does.
    import trustme

    authority = trustme.CA(organization_name="coze-harness simulator (test only)")
    server = authority.issue_cert(*LOOPBACK_NAMES)
    with tempfile.TemporaryDirectory(prefix="coze-sim-tls-") as folder:
        files = LocalTls(Path(folder, "ca.pem"), Path(folder, "server.pem"), Path(folder, "server.key"))
        authority.cert_pem.write_to_path(str(files.ca_file))
        server.private_key_pem.write_to_path(str(files.key_file))
        for index, blob in enumerate(server.cert_chain_pems):
            blob.write_to_path(str(files.cert_file), append=index > 0)
        yield files
