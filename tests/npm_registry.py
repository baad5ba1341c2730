"""A local npm registry for tests: packuments and tarballs it builds from files given in the test
(or from tests/npm_packages/), served over real HTTP on loopback, as registry.npmjs.org serves them.

    with LocalRegistry() as registry:
        registry.publish("left-pad", "1.3.0", {"index.js": "module.exports = ..."})
        registry.publish("axios-like", "1.0.0", {...}, dependencies={"left-pad": "^1.0.0"})
        ... build against registry.url ...
        registry.requests  # the paths asked for, in order

A package.json is written for each version unless the files give one. `tamper(name, version)`
serves other bytes than the integrity says; `token` makes it answer 401 without that bearer
token; `stall` holds every request until the event is set; `status` answers every request with it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

PACKAGES = Path(__file__).parent / "npm_packages"


def tarball(files: dict[str, Any], top: str = "package", extra: list[tarfile.TarInfo] | None = None) -> bytes:
    """A gzipped tarball of `files` under `top/`, as `npm pack` makes one (fixed mtimes)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for rel, content in sorted(files.items()):
            data = (json.dumps(content, indent=2) if isinstance(content, dict) else content)
            data = data if isinstance(data, bytes) else data.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mtime, info.mode = len(data), 499162500, 0o644
            archive.addfile(info, io.BytesIO(data))
        for info in extra or []:
            archive.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fixture_files(name: str) -> dict[str, str]:
    """The files of tests/npm_packages/<name>/ (a package directory as it is published)."""
    base = PACKAGES / name
    return {str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}


class LocalRegistry:
    def __init__(self) -> None:
        self.versions: dict[str, dict[str, dict[str, Any]]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.tarballs: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []
        self.token: str | None = None
        self.status: int | None = None
        self.stall: threading.Event | None = None
        self._tampered: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def publish(self, name: str, version: str, files: dict[str, Any], *, dependencies: dict[str, str] | None = None,
                tag: str | None = "latest", data: bytes | None = None, **fields: Any) -> dict[str, Any]:
        """Publish name@version; `fields` go into both its package.json and its packument entry
        (peerDependencies, optionalDependencies, os, cpu, exports, main, type...)."""
        package_json = {"name": name, "version": version, **({"dependencies": dependencies} if dependencies else {}), **fields}
        files = {"package.json": package_json, **files}
        data = data if data is not None else tarball(files)
        path = f"-/{name}-{version}.tgz"
        self.tarballs[path] = data
        entry = {**package_json, "dist": {"tarball": "{registry}" + path, "integrity": integrity(data),
                                          "shasum": hashlib.sha1(data).hexdigest()}}
        self.versions.setdefault(name, {})[version] = entry
        if tag:
            self.tags.setdefault(name, {})[tag] = version
        return entry

    def tamper(self, name: str, version: str) -> None:
        self._tampered.add(f"-/{name}-{version}.tgz")

    def tarball_requests(self) -> list[str]:
        return [r for r in self.requests if r.endswith(".tgz")]

    def packument(self, name: str) -> dict[str, Any] | None:
        if name not in self.versions:
            return None
        versions = {v: json.loads(json.dumps(e).replace("{registry}", self.url)) for v, e in self.versions[name].items()}
        return {"name": name, "dist-tags": self.tags.get(name, {}), "versions": versions}

    def __enter__(self) -> LocalRegistry:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as registries answer

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = unquote(self.path.lstrip("/"))
                registry.requests.append(path)
                registry.authorizations.append(self.headers.get("Authorization"))
                if registry.stall is not None:
                    registry.stall.wait(30)
                if registry.status is not None:
                    return self._send(registry.status, b"{}")
                if registry.token and self.headers.get("Authorization") != f"Bearer {registry.token}":
                    return self._send(401, b'{"error":"unauthorized"}')
                if path in registry.tarballs:
                    data = registry.tarballs[path]
                    if path in registry._tampered:
                        data = data[:-8] + bytes(8)
                    return self._send(200, data, "application/octet-stream")
                doc = registry.packument(path)
                if doc is None:
                    return self._send(404, b'{"error":"Not found"}')
                self._send(200, json.dumps(doc).encode())

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stall is not None:
            self.stall.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
