"""The egress policy: which URLs and addresses an action's outbound requests may reach.

Pure: no I/O. `EgressConfig` is what the operator gives (flags, environment), JSON-serialisable so
the supervisor hands it to each executor process as `--egress`; `Policy` is its compiled form,
asked by sandbox/host_fetch.py about every URL (each redirect hop too) and about every address a
connection is about to be made to.

What the flags mean, precisely:
- By default only *public* addresses are reachable (`refusal_reason` lists what is not public).
- `deny` patterns always win. A host pattern refuses matching URL hosts before any lookup; an
  address or CIDR refuses those addresses, whatever the host and whatever else allows them.
- `allow` patterns exempt from the public-address rule, nothing else. A host pattern lets the
  addresses that host resolves to be private; an address or CIDR makes those addresses
  reachable by any host name and as literal-IP URLs.
- `resolve` mappings (`PATTERN=ADDRESS[:PORT]`, like curl's --resolve) make matching hosts
  connect to ADDRESS (and PORT, else the URL's port), keeping the URL's host for TLS (SNI and
  certificate check) and `Host`; the mapped address is reachable even when private (the
  operator gave it), unless a deny pattern matches the host or the address.
Host patterns: `*` (every host), `*.example.com` (any subdomain, at any depth, not
example.com itself), `example.com` (exactly). Case-insensitive, trailing dot ignored,
internationalised names compared in their ASCII (punycode) form.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yarl

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MiB = 2**20


@dataclass
class EgressConfig:
    """What the operator configured. Defaults are the documented ones (README, "Calling APIs
    from actions")."""

    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    resolve: list[str] = field(default_factory=list)  # "PATTERN=ADDRESS:PORT"
    ca_file: str | None = None  # extra trust roots, added to the system's and certifi's
    proxy: str | None = None  # --egress-proxy: every scheme (overrides the environment's)
    http_proxy: str | None = None  # from HTTP_PROXY / http_proxy
    https_proxy: str | None = None  # from HTTPS_PROXY / https_proxy
    no_proxy: list[str] = field(default_factory=list)  # from NO_PROXY / no_proxy
    # per execution
    max_concurrent: int = 10  # requests in flight at once; more wait for a slot
    max_requests: int = 50  # fetch calls in all (each followed redirect is part of its call)
    max_response_bytes: int = 10 * MiB  # decoded body, streamed and cut off at the cap
    max_request_bytes: int = 10 * MiB  # request body

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EgressConfig:
        return cls(**data)

    def with_environment_proxies(self, environ: os._Environ[str] | dict[str, str] | None = None) -> EgressConfig:
        """A copy with the usual proxy variables filled in (the lower-case name first, as curl
        and Python do)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(name.lower()) or env.get(name.upper()) or None

        no_proxy = get("no_proxy")
        return EgressConfig(**{**asdict(self), "http_proxy": get("http_proxy"), "https_proxy": get("https_proxy"),
                               "no_proxy": [p for p in re.split(r"[\s,]+", no_proxy or "") if p]})


class PatternError(ValueError):
    """A flag's pattern cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Refusal:
    """Why a request is not made: `code` is the error code of the fetch reply (COMMON.md §2)."""

    code: str
    message: str


# -- what is not public ---------------------------------------------------------------------

_V4_SPECIAL: list[tuple[ipaddress.IPv4Network, str]] = [(ipaddress.IPv4Network(n), why) for n, why in (
    ("0.0.0.0/8", "an unspecified/this-network address (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private address (RFC 1918)"),
    ("100.64.0.0/10", "a shared (CGNAT) address (RFC 6598)"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address (where cloud metadata services live)"),
    ("172.16.0.0/12", "a private address (RFC 1918)"),
    ("192.0.0.0/24", "an IETF protocol-assignment address (RFC 6890)"),
    ("192.0.2.0/24", "a documentation address (RFC 5737)"),
    ("192.88.99.0/24", "a 6to4 relay anycast address (RFC 7526)"),
    ("192.168.0.0/16", "a private address (RFC 1918)"),
    ("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
    ("198.51.100.0/24", "a documentation address (RFC 5737)"),
    ("203.0.113.0/24", "a documentation address (RFC 5737)"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
)]

_V6_SPECIAL: list[tuple[ipaddress.IPv6Network, str]] = [(ipaddress.IPv6Network(n), why) for n, why in (
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("::/96", "an IPv4-compatible address (deprecated)"),
    ("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
    ("100::/64", "a discard-only address (RFC 6666)"),
    ("2001::/32", "a Teredo address"),
    ("2001:2::/48", "a benchmarking address (RFC 5180)"),
    ("2001:10::/28", "an ORCHID address (deprecated)"),
    ("2001:db8::/32", "a documentation address (RFC 3849)"),
    ("3fff::/20", "a documentation address (RFC 9637)"),
    ("fc00::/7", "a unique local address (fc00::/7)"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (deprecated)"),
    ("ff00::/8", "a multicast address"),
)]
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def refusal_reason(address: Address) -> str | None:
    """Why `address` is not a public address (a phrase: "a loopback address"), or None when it
    is. IPv6 forms that embed an IPv4 address (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d,
    6to4 2002:AABB:CCDD::) are judged by the address they embed."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        form = "IPv4-mapped"
        if embedded is None and address in _NAT64:
            embedded, form = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
        if embedded is None and address.sixtofour is not None:
            embedded, form = address.sixtofour, "6to4"
        if embedded is not None:
            inner = refusal_reason(embedded)
            return None if inner is None else f"the {form} form of {inner}"
        for network, why in _V6_SPECIAL:
            if address in network:
                return why
        if address not in _V6_GLOBAL_UNICAST:
            return "a reserved address (outside 2000::/3)"
        return None
    for network, why in _V4_SPECIAL:
        if address in network:
            return why
    return None


def parse_address(text: str) -> Address | None:
    """An IP address from a URL host or a resolver's answer ("[::1]", "fe80::1%eth0"), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# -- patterns ---------------------------------------------------------------------------

def normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


@dataclass(frozen=True)
class HostPatterns:
    """Host patterns and address ranges of one flag (allow or deny)."""

    everything: bool
    exact: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.com" for *.example.com
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, patterns: list[str], flag: str) -> HostPatterns:
        everything, exact, suffixes, networks = False, set(), [], []
        for raw in patterns:
            pattern = normalise_host(raw)
            if not pattern:
                raise PatternError(f"{flag} {raw!r}: empty pattern")
            if pattern == "*":
                if raw.strip() != "*":
                    raise PatternError(f"{flag} {raw!r}: expected a host name, *.domain, an IP address or a CIDR range")
                everything = True
                continue
            try:
                networks.append(ipaddress.ip_network(pattern, strict=False))
                continue
            except ValueError:
                pass
            if pattern.startswith("*."):
                rest = pattern[2:]
                if not rest or "*" in rest:
                    raise PatternError(f"{flag} {raw!r}: a wildcard only stands as the first label (*.example.com)")
                suffixes.append("." + rest)
            elif "*" in pattern or "/" in pattern or ":" in pattern:
                raise PatternError(f"{flag} {raw!r}: expected a host name, *.domain, an IP address or a CIDR range")
            else:
                exact.add(pattern)
        return cls(everything, frozenset(exact), tuple(suffixes), tuple(networks))

    def matches_host(self, host: str) -> bool:
        """`host` normalised (normalise_host). A literal address matches its networks too."""
        if self.everything or host in self.exact:
            return True
        if any(host.endswith(s) for s in self.suffixes):
            return True
        address = parse_address(host) if self.networks else None
        return address is not None and self.matches_address(address)

    def matches_address(self, address: Address) -> bool:
        if self.everything:
            return True
        for network in self.networks:
            if address.version == network.version and address in network:
                return True
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return mapped is not None and self.matches_address(mapped)


@dataclass(frozen=True)
class Mapping:
    pattern: HostPatterns
    address: Address
    port: int | None
    text: str


def parse_resolve(entry: str) -> Mapping:
    """`PATTERN=ADDRESS[:PORT]` (IPv6 in brackets when with a port: `[::1]:8443`)."""
    flag = "--egress-resolve"
    pattern, sep, target = entry.partition("=")
    if not sep or not pattern.strip() or not target.strip():
        raise PatternError(f"{flag} {entry!r}: expected PATTERN=ADDRESS:PORT (e.g. api.example.com=10.0.0.5:8443)")
    target = target.strip()
    port: int | None = None
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?|([0-9a-fA-F:]+)", target)
    if match is None:
        raise PatternError(f"{flag} {entry!r}: cannot read the address {target!r}")
    text = match.group(1) or match.group(3) or match.group(5)
    digits = match.group(2) or match.group(4)
    address = parse_address(text)
    if address is None:
        raise PatternError(f"{flag} {entry!r}: {text!r} is not an IP address")
    if digits is not None:
        port = int(digits)
        if not 0 < port < 65536:
            raise PatternError(f"{flag} {entry!r}: port {port} out of range")
    hosts = HostPatterns.parse([pattern], flag)
    if hosts.networks:
        raise PatternError(f"{flag} {entry!r}: the pattern must be a host name or *.domain, not an address")
    return Mapping(hosts, address, port, entry)


def parse_size(text: str) -> int:
    """A byte count: `10485760`, `10MiB`, `512KiB`, `1GiB` (also KB/MB/GB, as powers of 1000)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmg]i?b?|b)?\s*", str(text), re.IGNORECASE)
    if match is None:
        raise ValueError(f"not a byte count: {text!r} (e.g. 10485760, 10MiB, 512KiB)")
    number, unit = int(match.group(1)), (match.group(2) or "b").lower()
    scale = {"b": 1, "k": 1024, "kb": 1000, "kib": 1024, "ki": 1024, "m": MiB, "mb": 10**6, "mib": MiB, "mi": MiB,
             "g": 2**30, "gb": 10**9, "gib": 2**30, "gi": 2**30}[unit]
    return number * scale


# -- the compiled policy ----------------------------------------------------------------------

class Policy:
    """EgressConfig compiled; every question the fetch host side asks, answered without I/O."""

    def __init__(self, config: EgressConfig) -> None:
        self.config = config
        self.allow = HostPatterns.parse(config.allow, "--egress-allow")
        self.deny = HostPatterns.parse(config.deny, "--egress-deny")
        self.mappings = [parse_resolve(e) for e in config.resolve]
        self._no_proxy = HostPatterns.parse(no_proxy_patterns(config.no_proxy), "NO_PROXY")
        for what, proxy in (("--egress-proxy", config.proxy), ("HTTP_PROXY", config.http_proxy),
                            ("HTTPS_PROXY", config.https_proxy)):
            if proxy:
                url = yarl.URL(proxy)
                if url.scheme not in ("http", "https") or not url.host:
                    raise PatternError(f"{what} {proxy!r}: expected http://HOST:PORT (or https://)")
        self.proxy_hosts = frozenset(normalise_host(yarl.URL(p).host or "")
                                     for p in (config.proxy, config.http_proxy, config.https_proxy) if p)

    def check_url(self, url: yarl.URL) -> Refusal | None:
        """The checks made before any lookup: scheme, credentials, host, deny patterns, and the
        address of a literal-IP URL."""
        if url.scheme not in ("http", "https"):
            scheme = f"{url.scheme}:" if url.scheme else "a relative URL"
            return Refusal("BAD_URL", f"only http: and https: URLs can be fetched, not {scheme}")
        if url.raw_user or url.raw_password:
            return Refusal("BAD_URL", "a URL with credentials (user:password@) cannot be fetched; send an Authorization header")
        if not url.raw_host:
            return Refusal("BAD_URL", f"the URL {url.scheme}:{url.raw_path} has no host")
        host = normalise_host(url.raw_host)
        if self.deny.matches_host(host):
            return Refusal("EGRESS_DENIED", f"egress refused: {host} matches an --egress-deny pattern")
        address = parse_address(host)
        if address is not None:
            return self.check_address(host, address)
        return None

    def mapping_for(self, host: str) -> Mapping | None:
        host = normalise_host(host)
        for mapping in self.mappings:
            if mapping.pattern.matches_host(host):
                return mapping
        return None

    def check_address(self, host: str, address: Address, mapped: bool = False) -> Refusal | None:
        """Whether a connection to `address` for the URL host `host` is allowed; `mapped`: the
        address came from an --egress-resolve mapping."""
        shown = f"[{address}]" if address.version == 6 else str(address)
        if self.deny.matches_address(address):
            return Refusal("EGRESS_DENIED", f"egress refused: {shown} matches an --egress-deny range")
        if mapped or self.allow.matches_address(address):
            return None
        why = refusal_reason(address)
        if why is None:
            return None
        host = normalise_host(host)
        literal = parse_address(host) == address
        if not literal and self.allow.matches_host(host):
            return None
        target = f"[{host}]" if literal and address.version == 6 else host if literal else f"{host} resolves to {shown}, which"
        return Refusal("EGRESS_DENIED", f"egress refused: {target} is {why}; allow it with --egress-allow")

    def proxy_for(self, url: yarl.URL) -> str | None:
        """The proxy a request to `url` goes through, or None for a direct connection. Hosts
        with an --egress-resolve mapping and NO_PROXY hosts connect directly."""
        proxy = self.config.proxy or (self.config.https_proxy if url.scheme == "https" else self.config.http_proxy)
        if not proxy:
            return None
        host = normalise_host(url.raw_host or "")
        if self._no_proxy.matches_host(host) or self.mapping_for(host) is not None:
            return None
        return proxy


def _no_proxy_pattern(entry: str) -> str:
    """NO_PROXY's conventions (curl, requests): `example.com` and `.example.com` both mean the
    domain and its subdomains, `*` everything; host:port entries lose the port."""
    entry = entry.strip()
    if entry == "*":
        return entry
    if not entry.startswith("[") and entry.count(":") == 1:
        entry = entry.split(":", 1)[0]
    return "*" + entry if entry.startswith(".") else entry


def no_proxy_patterns(entries: list[str]) -> list[str]:
    """NO_PROXY entries as host patterns: each names the domain and its subdomains."""
    out: list[str] = []
    for entry in entries:
        pattern = _no_proxy_pattern(entry)
        out.append(pattern)
        if not pattern.startswith("*") and parse_address(pattern) is None and "/" not in pattern:
            out.append("*." + pattern)
    return out
