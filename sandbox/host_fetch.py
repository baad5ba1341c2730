"""The host side of an action's `fetch`: performs the "fetch" host call under the egress policy.

One aiohttp ClientSession per executor process, made on the first request (an executor whose
flows never call out pays nothing) and closed with the executor. The policy (sandbox/egress.py)
is applied to the URL of every hop and to the address actually connected to: the session's
resolver hands aiohttp only the addresses the policy allows (or the operator's --egress-resolve
mapping), so the address checked is the address used and a name that resolves differently a
second later (DNS rebinding) changes nothing; every socket is checked again just before it
connects and its peer just after (literal-IP URLs never reach a resolver). Redirects are
followed here, hop by hop, with fetch's rules (undici's, where the spec leaves a choice).
Network outcomes are reply values ({"ok": false, "error": {code, message}}), never exceptions;
every reply carries the request's `trace` for the execution record.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import concurrent.futures
import errno
import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from .egress import Address, EgressConfig, Policy, normalise_host, parse_address, refusal_reason

MAX_REDIRECTS = 20  # fetch's redirect limit
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
REDIRECT_BODY_READ = 64 * 1024  # a redirect's own body is read (to reuse the connection) up to this
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# hop-by-hop or connection-level: set by the client itself, never by the action
_DROPPED_HEADERS = frozenset(("host", "connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer",
                              "content-length", "expect", "proxy-connection"))
_BODY_HEADERS = ("content-encoding", "content-language", "content-location", "content-type")
_CROSS_ORIGIN_DROPPED = ("authorization", "proxy-authorization", "cookie")
# getaddrinfo blocks a thread: lookups get threads of their own, so that names that are slow to
# resolve (an action can pick them) never hold up the loop's default pool, which builds and
# closes every tenant's isolates
DNS_THREADS = 8


class EgressRefused(OSError):
    """Raised inside aiohttp (resolver, socket factory, connect check) when the policy refuses
    an address; an OSError so that aiohttp wraps it as it wraps any connect failure."""


class _Fail(Exception):
    def __init__(self, code: str, message: str, outcome: str = "error") -> None:
        super().__init__(message)
        self.code, self.message, self.outcome = code, message, outcome


@dataclass
class _InFlight:
    task: asyncio.Task[dict[str, Any]]
    aborted: bool = False


@dataclass
class _JobFetches:
    """One execution's requests (kept in its host-call state, dropped when it ends)."""

    slots: asyncio.Semaphore
    count: int = 0
    in_flight: dict[int, _InFlight] = field(default_factory=dict)
    aborted_early: set[int] = field(default_factory=set)


@dataclass
class _Request:
    method: str
    url: yarl.URL
    headers: list[tuple[str, str]]
    body: bytes | None
    redirect: str
    tag: int | None


class _PolicyResolver(AbstractResolver):
    """The session's resolver: the mapping of --egress-resolve, else the system's answer with
    the addresses the policy refuses taken out (an error naming the first when none is left)."""

    def __init__(self, fetcher: HostFetch) -> None:
        self._fetcher = fetcher
        self._policy = fetcher.policy
        self._inner: Any = _SystemResolver(fetcher.dns_pool)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        policy, name = self._policy, normalise_host(host)
        mapping = policy.mapping_for(name)
        if mapping is not None:
            refusal = policy.check_address(name, mapping.address, mapped=True)
            if refusal is not None:
                raise EgressRefused(refusal.message)
            self._fetcher.approve(mapping.address)
            return [ResolveResult(hostname=host, host=str(mapping.address), port=mapping.port or port,
                                  family=socket.AF_INET6 if mapping.address.version == 6 else socket.AF_INET,
                                  proto=0, flags=socket.AI_NUMERICHOST)]
        results = await self._inner.resolve(host, port, family)
        if name in policy.proxy_hosts:
            # the operator's proxy (resolved for the connection to it): trusted as configured
            for result in results:
                address = parse_address(result["host"])
                if address is not None:
                    self._fetcher.approve(address)
            return results
        allowed: list[ResolveResult] = []
        first = None
        for result in results:
            address = parse_address(result["host"])
            if address is None:
                continue
            refusal = policy.check_address(name, address)
            if refusal is not None:
                first = first or refusal
                continue
            if refusal_reason(address) is not None:
                self._fetcher.approve(address)  # private, let through by an allow pattern
            allowed.append(result)
        if not allowed:
            raise EgressRefused(first.message if first is not None else f"egress refused: {name} has no usable address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class _SystemResolver:
    """getaddrinfo in the fetcher's own threads, answers as aiohttp's ResolveResult."""

    def __init__(self, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        self._pool = pool

    async def resolve(self, host: str, port: int, family: socket.AddressFamily) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().run_in_executor(
            self._pool, socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
        results: list[ResolveResult] = []
        for info_family, _, proto, _, address in infos:
            if info_family not in (socket.AF_INET, socket.AF_INET6):
                continue
            results.append(ResolveResult(hostname=host, host=address[0], port=address[1], family=info_family,
                                         proto=proto, flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV))
        return results

    async def close(self) -> None:
        return None


class _CheckedConnector(aiohttp.TCPConnector):
    """Checks the peer of every new connection against the policy, right after it connects."""

    def __init__(self, fetcher: HostFetch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fetcher = fetcher

    async def _wrap_create_connection(self, *args: Any, req: Any, client_error: type[Exception] = aiohttp.ClientConnectorError,
                                      **kwargs: Any) -> Any:
        transport, protocol = await super()._wrap_create_connection(*args, req=req, client_error=client_error, **kwargs)
        peer = transport.get_extra_info("peername")
        address = parse_address(peer[0]) if peer else None
        refusal = "no peer address" if address is None else self._fetcher.address_refused(address)
        if refusal is not None:
            transport.abort()
            raise client_error(req.connection_key, EgressRefused(refusal))
        return transport, protocol


class HostFetch:
    """Performs "fetch" host calls for one executor process under one egress policy."""

    def __init__(self, config: EgressConfig | None = None) -> None:
        self.config = config or EgressConfig()
        self.policy = Policy(self.config)
        self._session: aiohttp.ClientSession | None = None
        # private addresses the resolver handed out because the operator allowed them (an
        # allow pattern, a mapping, the proxy): the connect-time checks accept those too
        self._approved: dict[str, None] = {}
        for proxy in (self.config.proxy, self.config.http_proxy, self.config.https_proxy):
            address = parse_address(yarl.URL(proxy).host or "") if proxy else None
            if address is not None:
                self.approve(address)  # a proxy given by its address never meets the resolver
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.seconds = 0.0
        self._dns_pool: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def dns_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._dns_pool is None:
            self._dns_pool = concurrent.futures.ThreadPoolExecutor(DNS_THREADS, thread_name_prefix="egress-dns")
        return self._dns_pool

    def host_calls(self) -> dict[str, Any]:
        return {"fetch": self.fetch, "fetch.abort": self.abort}

    def stats(self) -> dict[str, Any]:
        return {"requests": dict(self.outcomes), "seconds": round(self.seconds, 3)}

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        if self._dns_pool is not None:
            self._dns_pool.shutdown(wait=False, cancel_futures=True)
            self._dns_pool = None

    # -- the connect-time checks ----------------------------------------------------------

    def approve(self, address: Address) -> None:
        if len(self._approved) > 4096:
            self._approved.clear()
        self._approved[str(address)] = None

    def address_refused(self, address: Address) -> str | None:
        """Why a socket may not connect to `address` (None: it may): the resolver's answers and
        pre-checked literal IPs pass; anything else not public is a bug caught here."""
        policy = self.policy
        if policy.deny.matches_address(address):
            return f"egress refused: {address} matches an --egress-deny range"
        if str(address) in self._approved or policy.allow.matches_address(address):
            return None
        why = refusal_reason(address)
        return None if why is None else f"egress refused: {address} is {why}; allow it with --egress-allow"

    def _socket_factory(self, addr_info: Any) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        address = parse_address(sockaddr[0])
        refusal = "no address" if address is None else self.address_refused(address)
        if refusal is not None:
            raise EgressRefused(refusal)
        return socket.socket(family=family, type=type_, proto=proto)

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = ssl.create_default_context()
            try:
                import certifi

                context.load_verify_locations(certifi.where())
            except ImportError:  # pragma: no cover - certifi is locked (aiohttp's dependency tree)
                pass
            if self.config.ca_file:
                context.load_verify_locations(self.config.ca_file)
            connector = _CheckedConnector(self, resolver=_PolicyResolver(self), ssl=context,
                                          socket_factory=self._socket_factory, limit=256, ttl_dns_cache=10)
            # no cookie jar: the session is shared by every tenant of this executor
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                                  trust_env=False, timeout=aiohttp.ClientTimeout(total=None),
                                                  skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding"),
                                                  auto_decompress=True)
        return self._session

    # -- host calls ---------------------------------------------------------------------

    async def abort(self, args: Any, ctx: Any) -> None:
        """"fetch.abort" {tag}: cancel that execution's request (its fetch call answers "aborted")."""
        tag = args.get("tag") if isinstance(args, dict) else None
        if not isinstance(tag, int):
            return None
        jobs = self._jobs(ctx)
        entry = jobs.in_flight.get(tag)
        if entry is None:
            jobs.aborted_early.add(tag)
        elif not entry.task.done():
            entry.aborted = True
            entry.task.cancel()
        return None

    async def fetch(self, args: Any, ctx: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        trace: dict[str, Any] = {"method": "", "host": "", "path": "", "status": None, "duration_ms": 0,
                                 "bytes": 0, "outcome": "error"}
        try:
            request = _read_args(args, self.config, trace)
        except _Fail as fail:
            return self._failed(trace, started, fail)
        jobs = self._jobs(ctx)
        if request.tag is not None and request.tag in jobs.aborted_early:
            jobs.aborted_early.discard(request.tag)
            return self._failed(trace, started, _Fail("ABORT_ERR", "the request was aborted", "aborted"))
        if jobs.count >= self.config.max_requests:
            return self._failed(trace, started, _Fail(
                "TOO_MANY_REQUESTS", f"this execution already made {jobs.count} requests, the limit "
                f"(--egress-max-requests {self.config.max_requests})", "denied"))
        jobs.count += 1
        task = loop.create_task(self._within_budget(request, ctx.deadline, jobs, trace))
        entry = _InFlight(task)
        if request.tag is not None:
            jobs.in_flight[request.tag] = entry
        try:
            reply = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if entry.aborted and (current is None or not current.cancelling()):
                return self._failed(trace, started, _Fail("ABORT_ERR", "the request was aborted", "aborted"))
            raise
        except _Fail as fail:
            return self._failed(trace, started, fail)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the action gets fetch's error
            return self._failed(trace, started, _Fail("EPROTO", f"the request failed: {exc!r}"))
        finally:
            if request.tag is not None and jobs.in_flight.get(request.tag) is entry:
                del jobs.in_flight[request.tag]
        return self._finished(reply, trace, started, "ok")

    def _jobs(self, ctx: Any) -> _JobFetches:
        jobs = ctx.state.get("fetch")
        if jobs is None:
            jobs = ctx.state["fetch"] = _JobFetches(asyncio.Semaphore(self.config.max_concurrent))
        return jobs

    def _failed(self, trace: dict[str, Any], started: float, fail: _Fail) -> dict[str, Any]:
        return self._finished({"ok": False, "error": {"code": fail.code, "message": fail.message}}, trace, started,
                              fail.outcome)

    def _finished(self, reply: dict[str, Any], trace: dict[str, Any], started: float, outcome: str) -> dict[str, Any]:
        seconds = asyncio.get_running_loop().time() - started
        trace["duration_ms"] = round(seconds * 1000, 1)
        trace["outcome"] = outcome
        reply["trace"] = trace
        self.outcomes[outcome] += 1
        self.seconds += seconds
        return reply

    async def _within_budget(self, request: _Request, deadline: float, jobs: _JobFetches,
                             trace: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if deadline - loop.time() <= 0:
            raise _Fail("ETIMEDOUT", "no time is left of the execution's budget for this request", "timeout")
        try:
            async with asyncio.timeout_at(deadline):
                async with jobs.slots:
                    return await self._follow(request, trace)
        except TimeoutError:
            raise _Fail("ETIMEDOUT", "the request did not finish within what was left of the execution's budget",
                        "timeout") from None
        except _Fail:
            raise
        except aiohttp.ClientError as exc:
            raise _classify(exc, request) from None
        except (OSError, ValueError, UnicodeError) as exc:
            raise _Fail("EPROTO", f"the request failed: {exc}") from None

    async def _follow(self, request: _Request, trace: dict[str, Any]) -> dict[str, Any]:
        """The request and the redirects it is allowed to follow; the final response's reply."""
        session = self._session_now()
        method, url, headers, body = request.method, request.url, request.headers, request.body
        redirects = 0
        while True:
            await self._check(url)
            proxy = self.policy.proxy_for(url)
            response = await session.request(method, url, headers=headers, data=body, allow_redirects=False,
                                              proxy=proxy, auto_decompress=True)
            try:
                trace["status"] = response.status
                location = response.headers.get("location")
                if response.status not in REDIRECT_STATUSES or location is None or request.redirect == "manual":
                    data = await _read_body(response, self.config.max_response_bytes, trace)
                    return _ok_reply(response, url, redirects > 0, data)
                if request.redirect == "error":
                    raise _Fail("REDIRECT_REFUSED", f"unexpected redirect ({response.status}) to {location}: "
                                "the request was made with redirect: \"error\"", "denied")
                try:
                    target = url.join(yarl.URL(location))
                except ValueError:
                    raise _Fail("BAD_URL", f"the redirect's Location {location!r} is not a URL") from None
                if target.scheme not in ("http", "https"):
                    raise _Fail("BAD_URL", f"redirect to a {target.scheme}: URL refused: only http: and https: are fetched",
                                "denied")
                if redirects >= MAX_REDIRECTS:
                    raise _Fail("TOO_MANY_REDIRECTS", f"redirect count exceeded ({MAX_REDIRECTS})")
                await _drain(response)
            finally:
                response.close()
            redirects += 1
            trace["redirects"] = redirects
            status = response.status
            if (status in (301, 302) and method == "POST") or (status == 303 and method not in ("GET", "HEAD")):
                method, body = "GET", None
                headers = [(n, v) for n, v in headers if n not in _BODY_HEADERS]
            if _origin(target) != _origin(url):
                headers = [(n, v) for n, v in headers if n not in _CROSS_ORIGIN_DROPPED]
            url = target.with_fragment(None) if target.fragment else target

    async def _check(self, url: yarl.URL) -> None:
        refusal = self.policy.check_url(url)
        if refusal is not None:
            raise _Fail(refusal.code, refusal.message, "denied")
        if self.policy.proxy_for(url) is None:
            return  # the resolver and the connect-time checks judge the addresses
        # through a proxy, the proxy resolves the name: what it resolves to here is checked
        # (best effort: a name this host cannot resolve is left to the proxy)
        host = normalise_host(url.raw_host or "")
        if parse_address(host) is not None or self.policy.allow.matches_host(host):
            return
        try:
            infos = await _SystemResolver(self.dns_pool).resolve(host, url.port or 0, socket.AF_UNSPEC)
        except OSError:
            return
        for info in infos:
            address = parse_address(info["host"])
            refusal = None if address is None else self.policy.check_address(host, address)
            if refusal is not None:
                raise _Fail(refusal.code, refusal.message, "denied")


# -- helpers ---------------------------------------------------------------------------

def _read_args(args: Any, config: EgressConfig, trace: dict[str, Any]) -> _Request:
    if not isinstance(args, dict):
        raise _Fail("BAD_URL", "fetch: the request description is not an object")
    method, url_text = args.get("method", "GET"), args.get("url")
    if not isinstance(method, str) or not _TOKEN.match(method):
        raise _Fail("BAD_URL", f"fetch: {method!r} is not a valid HTTP method")
    trace["method"] = method
    if not isinstance(url_text, str):
        raise _Fail("BAD_URL", "fetch: the URL is not a string")
    try:
        url = yarl.URL(url_text, encoded=True)
    except (ValueError, TypeError) as exc:
        raise _Fail("BAD_URL", f"fetch: invalid URL {url_text!r}: {exc}") from None
    trace["host"] = url.raw_host or ""
    trace["path"] = url.raw_path
    if url.fragment:
        url = url.with_fragment(None)
    headers: list[tuple[str, str]] = []
    names: set[str] = set()
    for pair in args.get("headers") or ():
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)):
            raise _Fail("BAD_URL", "fetch: headers must be [name, value] pairs of strings")
        name, value = pair[0].lower(), pair[1]
        if not _TOKEN.match(name):
            raise _Fail("BAD_URL", f"fetch: {pair[0]!r} is not a valid header name")
        if "\r" in value or "\n" in value or "\0" in value:
            raise _Fail("BAD_URL", f"fetch: the value of header {pair[0]!r} contains a line break or NUL")
        if name in _DROPPED_HEADERS:
            continue
        names.add(name)
        headers.append((name, value))
    # undici's defaults, so that an upstream sees what it would see from Node 22
    for name, value in (("accept", "*/*"), ("accept-language", "*"), ("sec-fetch-mode", "cors"),
                        ("user-agent", "node"),
                        ("accept-encoding", "br, gzip, deflate" if url.scheme == "https" else "gzip, deflate")):
        if name not in names:
            headers.append((name, value))
    body_text = args.get("body")
    body: bytes | None = None
    if body_text is not None:
        if not isinstance(body_text, str):
            raise _Fail("BAD_URL", "fetch: the body is not base64 text")
        if len(body_text) // 4 * 3 > config.max_request_bytes + 2:
            raise _Fail("REQUEST_TOO_LARGE", f"the request body is over the limit of {config.max_request_bytes} bytes "
                        "(--egress-max-request-bytes)", "too_large")
        try:
            body = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError):
            raise _Fail("BAD_URL", "fetch: the body is not valid base64") from None
        if len(body) > config.max_request_bytes:
            raise _Fail("REQUEST_TOO_LARGE", f"the request body is {len(body)} bytes, over the limit of "
                        f"{config.max_request_bytes} (--egress-max-request-bytes)", "too_large")
        if method in ("GET", "HEAD"):
            raise _Fail("BAD_URL", "fetch: a GET or HEAD request cannot have a body")
    redirect = args.get("redirect", "follow")
    if redirect not in ("follow", "manual", "error"):
        raise _Fail("BAD_URL", f"fetch: redirect must be 'follow', 'manual' or 'error', not {redirect!r}")
    tag = args.get("tag")
    return _Request(method, url, headers, body, redirect, tag if isinstance(tag, int) else None)


async def _read_body(response: aiohttp.ClientResponse, cap: int, trace: dict[str, Any]) -> bytes:
    """The decoded body, streamed; over `cap` bytes the connection is dropped."""
    length = response.content_length
    if length is not None and length > cap and "content-encoding" not in response.headers:
        raise _too_large(cap, f"{length} bytes announced")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_any():
        total += len(chunk)
        trace["bytes"] = total
        if total > cap:
            raise _too_large(cap, "cut off")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(cap: int, how: str) -> _Fail:
    return _Fail("RESPONSE_TOO_LARGE", f"the response body is over the limit of {cap} bytes ({how}; "
                 "--egress-max-response-bytes)", "too_large")


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read a redirect's own (small) body so that its connection can serve the next hop."""
    length = response.content_length
    if length is not None and length <= REDIRECT_BODY_READ:
        try:
            await response.read()
        except aiohttp.ClientError:
            pass


def _ok_reply(response: aiohttp.ClientResponse, url: yarl.URL, redirected: bool, data: bytes) -> dict[str, Any]:
    headers = [[name.decode("latin-1").lower(), value.decode("latin-1")] for name, value in response.raw_headers]
    return {"ok": True, "status": response.status, "status_text": response.reason or "", "url": str(url),
            "redirected": redirected, "headers": headers, "body": base64.b64encode(data).decode("ascii")}


def _origin(url: yarl.URL) -> tuple[str, str, int | None]:
    return url.scheme, normalise_host(url.raw_host or ""), url.port


def _classify(exc: aiohttp.ClientError, request: _Request) -> _Fail:
    """A client failure as the code and message the action sees (Node's words where they fit)."""
    url = request.url
    where = f"{url.raw_host}:{url.port}"
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, EgressRefused) or "egress refused" in str(os_error or ""):
        return _Fail("EGRESS_DENIED", str(os_error), "denied")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _Fail("CERT_INVALID", f"the certificate of {url.raw_host} is not trusted: {exc.certificate_error}")
    if isinstance(exc, (aiohttp.ClientConnectorSSLError, aiohttp.ClientSSLError)):
        return _Fail("EPROTO", f"TLS with {where} failed: {os_error or exc}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _Fail("ENOTFOUND", f"getaddrinfo ENOTFOUND {url.raw_host}")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return _Fail("ECONNREFUSED", f"the proxy refused the tunnel to {where}: {exc.status} {exc.message}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return _Fail("ECONNREFUSED", f"cannot connect to the proxy: {os_error or exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        number = getattr(os_error, "errno", None)
        if number == errno.ETIMEDOUT:
            return _Fail("ETIMEDOUT", f"connect ETIMEDOUT {where}", "timeout")
        if number == errno.ECONNRESET:
            return _Fail("ECONNRESET", f"read ECONNRESET {where}")
        name = errno.errorcode.get(number, "ECONNREFUSED") if number else "ECONNREFUSED"
        return _Fail("ECONNREFUSED", f"connect {name} {where}")
    if isinstance(exc, aiohttp.InvalidURL):
        return _Fail("BAD_URL", f"invalid URL: {exc}")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)):
        return _Fail("ECONNRESET", f"the connection to {where} closed before the response was complete: {exc}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return _Fail("EPROTO", f"{where} sent an invalid HTTP response: {exc.message}")
    return _Fail("EPROTO", f"the request to {where} failed: {exc}")
