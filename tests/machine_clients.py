"""Machine clients and their access tokens, for tests: an `actionhost serve` over TLS with a
certificate from a test CA (the SDKs, like node-auth0, only speak https://<domain>), a client made
through the Management API, and a token from the client-credentials grant.

    srv = start_tls_server(tmp_path / "data")           # srv.domain == "127.0.0.1:<port>"
    client = create_client(srv, ["read:users", "update:users"])
    token = access_token(srv, client["client_id"], client["client_secret"])
    srv.http().get("/api/v2/users/auth0|1", headers={"Authorization": f"Bearer {token}"})

The audience is https://<domain>/api/v2/, what Auth0's SDKs send for a domain. An action reaches
the same server through `--egress-resolve <name>=127.0.0.1:<port>` and `--egress-ca-file
srv.ca_file`; then its domain is <name>, and the certificate must name it (`names`)."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trustme

from conftest import Server, start_server


@dataclass
class TlsServer:
    server: Server
    ca_file: str

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def audience(self) -> str:
        return f"https://{self.domain}/api/v2/"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def http(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, verify=self.ssl_context(), timeout=30, **options)

    def stop(self) -> None:
        self.server.stop()


def start_tls_server(data_dir: Path, *flags: str, names: tuple[str, ...] = (), env: dict[str, str] | None = None,
                     port: int | None = None, ca: trustme.CA | None = None) -> TlsServer:
    """`actionhost serve --tls-cert/--tls-key` with a certificate for 127.0.0.1, localhost and `names`."""
    certs = data_dir.parent / f"certs-{uuid.uuid4().hex[:8]}"
    certs.mkdir(parents=True)
    ca = ca or trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost", *names)
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    issued.cert_chain_pems[0].write_to_path(str(certs / "cert.pem"))
    for pem in issued.cert_chain_pems[1:]:
        pem.write_to_path(str(certs / "cert.pem"), append=True)
    issued.private_key_pem.write_to_path(str(certs / "key.pem"))
    server = start_server(data_dir, "--tls-cert", str(certs / "cert.pem"), "--tls-key", str(certs / "key.pem"), *flags,
                          env=env, port=port)
    return TlsServer(server, str(certs / "ca.pem"))


def create_client(srv: TlsServer | Server, scopes: list[str], name: str | None = None, token: str | None = None) -> dict[str, Any]:
    """POST /api/v2/clients with the admin token (or `token`): the client, with its client_secret."""
    server = srv.server if isinstance(srv, TlsServer) else srv
    verify: Any = srv.ssl_context() if isinstance(srv, TlsServer) else True
    response = httpx.post(f"{server.api}/clients", headers=server.headers(token), verify=verify, timeout=30,
                          json={"name": name or f"m2m-{uuid.uuid4().hex[:8]}", "scopes": scopes})
    assert response.status_code == 201, response.text
    return response.json()


def access_token(srv: TlsServer, client_id: str, client_secret: str, audience: str | None = None, **params: str) -> str:
    """The access_token of POST /oauth/token (a form body, as node-auth0 sends it)."""
    with srv.http() as http:
        response = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                   "client_secret": client_secret,
                                                   "audience": audience or srv.audience, **params})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
